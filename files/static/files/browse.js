// The Files tab's upload form: several files in one request, with a progress bar.
// Without this script the form still works (a plain multipart POST); with it, the bytes
// sent are shown as they go and obvious refusals come before anything is sent.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const button = form.querySelector("button[type=submit]");
  const progress = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const token = form.querySelector("[name=csrfmiddlewaretoken]").value;

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function refusal(files) {
    if (!files.length) return "Choose at least one file to upload.";
    const maxBytes = Number(form.dataset.maxBytes);
    const tooBig = files.find((file) => file.size > maxBytes);
    if (tooBig) {
      return `${tooBig.name} is larger than ${form.dataset.maxText}, the most one file may be. Nothing was uploaded.`;
    }
    const empty = files.find((file) => file.size === 0);
    if (empty) return `${empty.name} is empty: there is nothing to upload.`;
    if (form.dataset.limit) {
      const total = files.reduce((sum, file) => sum + file.size, 0);
      if (Number(form.dataset.used) + total > Number(form.dataset.limit)) {
        return `That would go over your disk quota: ${form.dataset.usageText}. Nothing was uploaded.`;
      }
    }
    return "";
  }

  function finished(xhr) {
    let body;
    try {
      body = JSON.parse(xhr.responseText);
    } catch (error) {
      body = { ok: false, error: `The upload failed (HTTP ${xhr.status}).` };
    }
    if (body.ok) {
      say(body.message);
      window.location.assign(body.redirect);
      return;
    }
    progress.hidden = true;
    button.disabled = false;
    say(body.error, true);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const files = Array.from(input.files);
    const problem = refusal(files);
    if (problem) {
      say(problem, true);
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("X-CSRFToken", token);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (progressEvent) => {
      if (progressEvent.lengthComputable) {
        progress.max = progressEvent.total;
        progress.value = progressEvent.loaded;
        const percent = Math.floor((100 * progressEvent.loaded) / progressEvent.total);
        say(`Uploading ${files.length} file${files.length === 1 ? "" : "s"}: ${percent}%`);
      }
    });
    xhr.addEventListener("load", () => finished(xhr));
    xhr.addEventListener("error", () => {
      progress.hidden = true;
      button.disabled = false;
      say("The upload failed: the server could not be reached.", true);
    });
    progress.value = 0;
    progress.hidden = false;
    button.disabled = true;
    say("Starting the upload…");
    xhr.send(new FormData(form));
  });
})();
