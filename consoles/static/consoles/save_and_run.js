// Save and Run, in the Files editor's toolbar: save the buffer the way the editor does, then
// ask Warren to run the file in a new console in its folder, and show that console below.
//
// Saving belongs to the Files editor: window.warrenEditor.save() (a Promise of true once the
// file on disk holds the buffer); failing that, the Ace buffer is POSTed as the body to the
// data-save-url of the editor's form, as the editor itself does.
(function () {
  "use strict";
  if (window.warrenSaveAndRun) return;  // one listener, however many buttons
  window.warrenSaveAndRun = true;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function aceBuffer() {
    const element = document.querySelector(".ace_editor");
    return element && window.ace ? window.ace.edit(element).getValue() : null;
  }

  async function saveBuffer() {
    if (window.warrenEditor && typeof window.warrenEditor.save === "function") {
      // The Files editor's save() resolves to true once the file holds the buffer.
      if ((await window.warrenEditor.save()) === false) throw new Error("The file was not saved.");
      return;
    }
    const form = document.querySelector("[data-save-url]");
    const content = aceBuffer();
    if (!form || content === null) throw new Error("This editor cannot be saved from here.");
    const response = await fetch(form.dataset.saveUrl, {
      method: "POST",
      body: content,
      headers: {
        "X-CSRFToken": csrfToken(),
        "Content-Type": "text/plain; charset=utf-8",
        Accept: "application/json",
      },
      credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({ ok: false }));
    if (!response.ok || !answer.ok) throw new Error(answer.error || "The file was not saved.");
  }

  function showConsole(url, title) {
    let panel = document.getElementById("save-and-run-panel");
    if (!panel) {
      panel = document.createElement("section");
      panel.id = "save-and-run-panel";
      panel.innerHTML = '<header><strong></strong> <a target="_blank" rel="noopener">Open the console</a>' +
        ' <button type="button" class="small secondary">Close</button></header><iframe title="Console"></iframe>';
      panel.querySelector("button").addEventListener("click", () => panel.remove());
      panel.style.cssText = "margin-top:.5rem";
      panel.querySelector("iframe").style.cssText = "width:100%;height:40vh;border:0;background:#000";
      (document.querySelector("main") || document.body).appendChild(panel);
    }
    panel.querySelector("strong").textContent = title;
    panel.querySelector("a").href = url;
    panel.querySelector("iframe").src = `${url}frame/`;
  }

  async function saveAndRun(button) {
    const path = button.dataset.path;
    button.disabled = true;
    try {
      await saveBuffer();
      const body = new FormData();
      body.append("path", path);
      const response = await fetch(button.dataset.runUrl, {
        method: "POST", body, headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin",
      });
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.error || `Running failed (${response.status}).`);
      showConsole(answer.url, `Running ${path}`);
    } catch (error) {
      window.alert(error.message);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-save-and-run]");
    if (button) saveAndRun(button);
  });
})();
