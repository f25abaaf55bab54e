// Tracer console chat: posts the question and reads the server-sent events of the answer
// (conversation, tool, answer, error) from the response body as they arrive.
(function () {
  "use strict";
  var form = document.getElementById("chat-form");
  var log = document.getElementById("chat-log");
  if (!form || !log) return;

  function add(cls, text) {
    var p = document.createElement("p");
    p.className = cls;
    p.textContent = text;
    log.appendChild(p);
    return p;
  }

  function linkIncidents(el, ids) {
    if (!ids || !ids.length) return;
    var span = document.createElement("span");
    span.textContent = " Cited alerts: ";
    ids.forEach(function (id, i) {
      var a = document.createElement("a");
      a.href = "/alerts/" + id;
      a.textContent = "#" + id;
      span.appendChild(a);
      if (i < ids.length - 1) span.appendChild(document.createTextNode(", "));
    });
    el.appendChild(span);
  }

  function handle(kind, data, state) {
    if (kind === "conversation") {
      form.elements.conversation_id.value = data.conversation_id;
    } else if (kind === "tool") {
      state.tools.textContent += (state.tools.textContent ? ", " : "Tools called: ") +
        data.name + (data.ok ? "" : " (failed)");
    } else if (kind === "answer") {
      var a = add("a", data.answer);
      linkIncidents(a, data.alert_ids);
    } else if (kind === "error") {
      add("error", data.detail);
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    add("q", form.elements.message.value);
    var state = { tools: add("tools", "") };
    form.elements.message.value = "";
    fetch(form.action, { method: "POST", body: body, headers: { Accept: "text/event-stream" } })
      .then(function (response) {
        if (!response.ok) {
          return response.text().then(function (html) {
            var box = document.createElement("div");
            box.innerHTML = html;
            log.appendChild(box);
          });
        }
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) return;
            buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
            var blocks = buffer.split("\n\n");
            buffer = blocks.pop();
            blocks.forEach(function (block) {
              var kind = "message", data = "";
              block.split("\n").forEach(function (line) {
                if (line.indexOf("event:") === 0) kind = line.slice(6).trim();
                else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
              });
              if (data) handle(kind, JSON.parse(data), state);
            });
            return pump();
          });
        }
        return pump();
      })
      .catch(function (err) { add("error", "The request failed: " + err); });
  });
})();
