// The classroom view: one small read-only xterm per student console, each on the console's
// own websocket (/ws/consoles/<id>/?watch=1: read-only, never resizing the student's window),
// with the same acknowledgement flow control as the full console page (consoles/terminal.js).
(function () {
  "use strict";
  const cells = JSON.parse(document.getElementById("classroom-config").textContent);
  const ROWS = 12, COLS = 64;
  const ACK_BYTES = 32 * 1024, ACK_DELAY_MS = 20;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const terminals = {};
  window.warrenClassroom = { terminals };  // for the browser tests and the benchmark

  function watch(cell, element, status) {
    const term = new Terminal({
      rows: ROWS, cols: COLS, disableStdin: true, cursorBlink: false, scrollback: 200,
      fontSize: 9, fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    });
    term.open(element);
    terminals[cell.id] = term;
    const socket = new WebSocket(
      `${scheme}//${location.host}${cell.ws_path}?watch=1&rows=${ROWS}&cols=${COLS}`);
    socket.binaryType = "arraybuffer";
    let processed = 0, ackTimer = null;
    function sendAck() {
      clearTimeout(ackTimer);
      ackTimer = null;
      if (processed > 0 && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "ack", bytes: processed }));
        processed = 0;
      }
    }
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") {
        const message = JSON.parse(event.data);
        if (message.type === "exit") status.textContent = "ended";
        return;
      }
      const bytes = new Uint8Array(event.data);
      term.write(bytes, () => {
        processed += bytes.length;
        if (processed >= ACK_BYTES) sendAck();
        else if (ackTimer === null) ackTimer = setTimeout(sendAck, ACK_DELAY_MS);
      });
    });
    socket.addEventListener("close", (event) => {
      status.textContent = event.reason || "disconnected";
    });
  }

  for (const cell of cells) {
    const figure = document.querySelector(`.classroom-cell[data-console="${cell.id}"]`);
    watch(cell, figure.querySelector(".classroom-terminal"), figure.querySelector(".cell-status"));
  }
})();
