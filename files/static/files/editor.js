// The file editor: Ace with the mode its extension suggests, Save (button or Ctrl-S / Cmd-S)
// posting the text as the request body, and a warning before leaving with unsaved changes.
//
// Toolbar actions (WARREN_EDITOR_ACTIONS) can call window.warrenEditor.save(), which
// resolves to true once the file on disk holds what the editor shows, and listen for the
// "warren:saved" event on document (detail: {path}).
(function () {
  "use strict";
  const form = document.getElementById("editor-form");
  if (!form || !window.ace) return;
  const status = document.getElementById("save-status");
  const holder = document.getElementById("editor");
  const token = form.querySelector("[name=csrfmiddlewaretoken]").value;

  ace.config.set("basePath", form.dataset.aceBase);
  const editor = ace.edit(holder);
  const modelist = ace.require("ace/ext/modelist");
  editor.session.setMode(modelist.getModeForPath(form.dataset.name).mode);
  editor.setOptions({ showPrintMargin: false, useSoftTabs: true, tabSize: 4, fontSize: "14px" });
  editor.setValue(JSON.parse(document.getElementById("file-text").textContent), -1);
  editor.focus();

  let revision = 0;
  let savedRevision = 0;
  let saving = null;

  const isDirty = () => revision !== savedRevision;

  function show(text, isError) {
    status.textContent = text || (isDirty() ? "Unsaved changes" : "All changes saved");
    status.classList.toggle("error", Boolean(isError));
    form.classList.toggle("dirty", isDirty());
  }

  editor.session.on("change", () => {
    revision += 1;
    show();
  });

  async function send() {
    const sending = revision;
    show("Saving…");
    let body;
    try {
      const response = await fetch(form.dataset.saveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "X-CSRFToken": token,
          "Content-Type": "text/plain; charset=utf-8",
          Accept: "application/json",
        },
        body: editor.getValue(),
      });
      body = await response.json().catch(() => ({
        ok: false,
        error: `Saving failed (HTTP ${response.status}).`,
      }));
    } catch (error) {
      body = { ok: false, error: "Saving failed: the server could not be reached." };
    }
    if (!body.ok) {
      show(body.error, true);
      return false;
    }
    savedRevision = sending;
    show(isDirty() ? "Unsaved changes" : "Saved");
    document.dispatchEvent(new CustomEvent("warren:saved", { detail: { path: form.dataset.path } }));
    return true;
  }

  function save() {
    // One save at a time; a later one waits for the one in flight, then sends the latest.
    const mine = (saving || Promise.resolve(true)).then(send);
    saving = mine;
    mine.finally(() => {
      if (saving === mine) saving = null;
    });
    return mine;
  }

  editor.commands.addCommand({
    name: "save",
    bindKey: { win: "Ctrl-S", mac: "Command-S" },
    exec: () => {
      save();
    },
  });
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "s" && !holder.contains(event.target)) {
      event.preventDefault();
      save();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  window.addEventListener("beforeunload", (event) => {
    if (isDirty()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  window.warrenEditor = { editor, save, isDirty };
})();
