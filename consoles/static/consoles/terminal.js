// A console in the page: xterm.js over /ws/consoles/<id>/ (see consoles/consumers.py).
// Terminal bytes travel as binary frames; control messages as small JSON text frames.
// Flow control follows xterm.js's guide: every byte written into the terminal is
// acknowledged once xterm.js has processed it, and the server stops reading the console
// while too much is unacknowledged, so a flood never buries the user's Ctrl-C.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("console-config").textContent);
  const element = document.getElementById("terminal");
  const status = document.getElementById("terminal-status");
  const ACK_BYTES = 32 * 1024;   // acknowledge at least this often in a flood
  const ACK_DELAY_MS = 10;       // and a trickle shortly after it was written

  const term = new Terminal({
    cursorBlink: !config.read_only,
    disableStdin: config.read_only,
    scrollback: 10000,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: 14,
  });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(element);
  fit.fit();
  window.warrenTerminal = term;  // for the browser tests and the curious

  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = `${scheme}//${location.host}${config.ws_path}?rows=${term.rows}&cols=${term.cols}`;
  const encoder = new TextEncoder();
  // The server's own refusals (4403 refused, 4404 gone, 4409 access changed): final. Any
  // other close (a deploy restarting the ASGI server sends 1012, a dropped network 1006) is
  // followed by a reconnect: the console runs on in tmux, which redraws it on attach.
  const FINAL_CLOSES = new Set([4403, 4404, 4409]);
  // The first retry goes at once (a deploy's new server is already listening), after a random
  // 0-100 ms so that every page of a restarted server does not arrive in the same instant;
  // later ones back off from 100 ms, doubling.
  const RETRY_JITTER_MS = 100;
  const RETRY_FIRST_MS = 100;
  const RETRY_MAX_MS = 5000;
  let retryMs = 0;
  let ended = false;
  let socket = null;
  let processed = 0;
  let ackTimer = null;

  function say(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  function control(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function sendAck() {
    clearTimeout(ackTimer);
    ackTimer = null;
    if (processed > 0) {
      control({ type: "ack", bytes: processed });
      processed = 0;
    }
  }

  function written(count) {
    processed += count;
    if (processed >= ACK_BYTES) sendAck();
    else if (ackTimer === null) ackTimer = setTimeout(sendAck, ACK_DELAY_MS);
  }

  function connect() {
    const current = new WebSocket(url);
    current.binaryType = "arraybuffer";
    socket = current;
    processed = 0;  // the server counts unacknowledged bytes per connection

    current.addEventListener("message", (event) => {
      if (typeof event.data !== "string") {
        const bytes = new Uint8Array(event.data);
        term.write(bytes, () => { if (socket === current) written(bytes.length); });
        return;
      }
      const message = JSON.parse(event.data);
      if (message.type === "ready") {
        retryMs = 0;
        say("");
        document.body.dataset.consoleReady = "1";
        if (!config.read_only) control({ type: "resize", rows: term.rows, cols: term.cols });
        term.focus();
      } else if (message.type === "exit") {
        ended = true;
        say("This console has ended. Restart it from the Consoles tab.");
      } else if (message.type === "error") {
        say(message.message);
      }
    });

    current.addEventListener("close", (event) => {
      document.body.dataset.consoleReady = "";
      if (ended || FINAL_CLOSES.has(event.code)) {
        if (!status.textContent || event.reason) {
          say(event.reason || "Disconnected. Reload the page to reconnect: the console keeps running.");
        }
        return;
      }
      say(`${event.reason || "Disconnected."} Reconnecting…`);
      setTimeout(connect, retryMs === 0 ? Math.random() * RETRY_JITTER_MS : retryMs);
      retryMs = retryMs === 0 ? RETRY_FIRST_MS : Math.min(retryMs * 2, RETRY_MAX_MS);
    });
  }
  connect();

  if (!config.read_only) {
    term.onData((data) => {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
    });
    term.onBinary((data) => {
      const bytes = Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff);
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(bytes);
    });
    term.onResize(({ rows, cols }) => control({ type: "resize", rows, cols }));
  }

  let fitPending = null;
  new ResizeObserver(() => {
    cancelAnimationFrame(fitPending);
    fitPending = requestAnimationFrame(() => fit.fit());
  }).observe(element);
})();
