// Beside each UTC time marked data-local, the same moment in the browser's own time zone.
document.querySelectorAll("time[data-local]").forEach((element) => {
  const moment = new Date(element.getAttribute("datetime"));
  if (Number.isNaN(moment.getTime())) return;
  const local = moment.toLocaleString(undefined, {
    dateStyle: "medium",
    timeStyle: "short",
    timeZoneName: "short",
  });
  const note = document.createElement("small");
  note.className = "local-time";
  note.textContent = ` (${local})`;
  element.after(note);
});
