// Redaction box editor over a redacted image. The photo's textarea ("x, y, 宽, 高" per line, 0–1)
// stays the one source of truth: the canvas draws what it says and writes every change back, and
// the form posts it. The server checks the boxes and burns them into a new image; nothing here
// changes pixels or reaches originals.
//
// Mouse, pen or touch: drag on empty space to draw a box, drag a box to move it, drag the handle
// at its lower right corner to resize it, click a box to select it. Keyboard: the canvas takes
// focus; the buttons below it select the previous/next box and delete the selected one; arrow
// keys move the selected box (with Shift, further), with Alt they resize it; Delete removes it.
// Without JavaScript, or by preference, type the numbers into the textarea.
//
// Face boxes the server suggested (data-suggested on the image: the rectangles as JSON) are drawn
// dashed in orange with "建议" while they are as the detector left them; moved or resized, a box is
// the editor's own. They are masked already (the server burns them in); saving confirms them.
(function () {
  "use strict";
  var MIN = 0.005;
  var HANDLE = 14; // px: the resize handle, large enough for a finger
  var SAME = 0.00005;

  function clamp(v, low, high) { return Math.min(Math.max(v, low), high); }
  function lines(boxes) {
    return boxes.map(function (b) {
      return b.map(function (v) { return String(Math.round(v * 10000) / 10000); }).join(", ");
    }).join("\n");
  }
  function parse(text) {
    return text.split("\n").map(function (line) {
      var parts = line.split(/[,，]/).map(function (part) { return Number(part.trim()); });
      return parts.length === 4 && parts.every(isFinite) ? parts : null;
    }).filter(Boolean);
  }
  function button(label, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "button button--quiet";
    b.textContent = label;
    b.addEventListener("click", onClick);
    return b;
  }

  document.querySelectorAll("img.redact-image").forEach(function (image) {
    var field = document.getElementById(image.dataset.boxesField);
    if (!field) { return; }
    var wrapper = document.createElement("div");
    wrapper.className = "redact-editor";
    image.parentNode.insertBefore(wrapper, image);
    wrapper.appendChild(image);
    var canvas = document.createElement("canvas");
    canvas.className = "redact-canvas";
    canvas.tabIndex = 0;
    canvas.setAttribute("role", "application");
    canvas.setAttribute("aria-label", "遮挡框编辑区：方向键移动所选框，Alt+方向键调整大小，Delete 删除所选框");
    wrapper.appendChild(canvas);
    var status = document.createElement("p");
    status.className = "muted redact-status";
    status.setAttribute("aria-live", "polite");
    var tools = document.createElement("div");
    tools.className = "redact-tools";
    wrapper.parentNode.insertBefore(tools, wrapper.nextSibling);
    tools.parentNode.insertBefore(status, tools.nextSibling);

    var context = canvas.getContext("2d");
    var boxes = parse(field.value);
    var suggestions = [];
    try { suggestions = JSON.parse(image.dataset.suggested || "[]"); } catch (error) { suggestions = []; }
    var selected = -1;
    var drag = null; // {mode: "draw"|"move"|"resize", start: [x, y], origin: box}
    var current = null;

    function suggested(b) {
      return suggestions.some(function (s) {
        return s.every(function (v, k) { return Math.abs(v - b[k]) < SAME; });
      });
    }
    function announce() {
      var open = boxes.filter(suggested).length;
      status.textContent = boxes.length ? ("共 " + boxes.length + " 个遮挡框" +
        (open ? "（其中 " + open + " 个为自动识别的人脸建议框，虚线显示，保存即确认）" : "") +
        (selected >= 0 ? "，已选第 " + (selected + 1) + " 个" : "，未选择")) : "尚无遮挡框：在图片上拖动即可画框。";
    }
    function write() {
      field.value = lines(boxes);
      announce();
      draw();
    }
    function size() {
      canvas.width = image.clientWidth;
      canvas.height = image.clientHeight;
      draw();
    }
    function rect(b) { return [b[0] * canvas.width, b[1] * canvas.height, b[2] * canvas.width, b[3] * canvas.height]; }
    function draw() {
      context.clearRect(0, 0, canvas.width, canvas.height);
      boxes.concat(current ? [current] : []).forEach(function (b, i) {
        var r = rect(b);
        var proposal = i < boxes.length && suggested(b);
        context.fillStyle = "rgba(0, 0, 0, 0.35)";
        context.fillRect(r[0], r[1], r[2], r[3]);
        context.lineWidth = i === selected ? 3 : 2;
        context.setLineDash(proposal ? [8, 5] : []);
        context.strokeStyle = i === selected ? "#ffd400" : (proposal ? "#ff8c00" : "#e60012");
        context.strokeRect(r[0], r[1], r[2], r[3]);
        context.setLineDash([]);
        if (proposal) {
          context.font = "bold 14px sans-serif";
          context.fillStyle = "#ff8c00";
          context.fillText("建议", r[0] + 4, r[1] + 16);
        }
        if (i === selected) {
          context.fillStyle = "#ffd400";
          context.fillRect(r[0] + r[2] - HANDLE, r[1] + r[3] - HANDLE, HANDLE, HANDLE);
        }
      });
    }
    function point(event) {
      var r = canvas.getBoundingClientRect();
      return [clamp((event.clientX - r.left) / r.width, 0, 1), clamp((event.clientY - r.top) / r.height, 0, 1)];
    }
    function hit(p) {
      for (var i = boxes.length - 1; i >= 0; i--) {
        var b = boxes[i];
        if (p[0] >= b[0] && p[0] <= b[0] + b[2] && p[1] >= b[1] && p[1] <= b[1] + b[3]) { return i; }
      }
      return -1;
    }
    function onHandle(p) {
      if (selected < 0) { return false; }
      var r = rect(boxes[selected]);
      var x = p[0] * canvas.width, y = p[1] * canvas.height;
      return x >= r[0] + r[2] - HANDLE && x <= r[0] + r[2] + 2 && y >= r[1] + r[3] - HANDLE && y <= r[1] + r[3] + 2;
    }
    function resizeTo(i, w, h) {
      var b = boxes[i];
      boxes[i] = [b[0], b[1], clamp(w, MIN * 2, 1 - b[0]), clamp(h, MIN * 2, 1 - b[1])];
    }
    function moveTo(i, x, y) {
      var b = boxes[i];
      boxes[i] = [clamp(x, 0, 1 - b[2]), clamp(y, 0, 1 - b[3]), b[2], b[3]];
    }
    function remove() {
      if (selected < 0) { return; }
      boxes.splice(selected, 1);
      selected = Math.min(selected, boxes.length - 1);
      write();
    }
    function cycle(step) {
      if (!boxes.length) { return; }
      selected = selected < 0 ? (step > 0 ? 0 : boxes.length - 1) : (selected + step + boxes.length) % boxes.length;
      write();
      canvas.focus();
    }

    canvas.addEventListener("pointerdown", function (event) {
      var p = point(event);
      var i = hit(p);
      canvas.setPointerCapture(event.pointerId);
      if (onHandle(p)) {
        drag = {mode: "resize", start: p, origin: boxes[selected].slice()};
      } else if (i >= 0) {
        selected = i;
        drag = {mode: "move", start: p, origin: boxes[i].slice()};
      } else {
        drag = {mode: "draw", start: p};
      }
      draw();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drag) { return; }
      var p = point(event);
      if (drag.mode === "move") {
        moveTo(selected, drag.origin[0] + p[0] - drag.start[0], drag.origin[1] + p[1] - drag.start[1]);
      } else if (drag.mode === "resize") {
        resizeTo(selected, drag.origin[2] + p[0] - drag.start[0], drag.origin[3] + p[1] - drag.start[1]);
      } else {
        current = [Math.min(drag.start[0], p[0]), Math.min(drag.start[1], p[1]),
                   Math.abs(p[0] - drag.start[0]), Math.abs(p[1] - drag.start[1])];
      }
      draw();
    });
    function finish() {
      if (drag && drag.mode === "draw") {
        if (current && current[2] > MIN && current[3] > MIN) {
          boxes.push(current);
          selected = boxes.length - 1;
        } else {
          selected = -1;
        }
      }
      drag = null;
      current = null;
      write();
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);
    canvas.addEventListener("keydown", function (event) {
      var step = event.shiftKey ? 0.05 : 0.01;
      var moves = {ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step]};
      if ((event.key === "Delete" || event.key === "Backspace") && selected >= 0) {
        event.preventDefault();
        remove();
      } else if (moves[event.key] && selected >= 0) {
        event.preventDefault();
        if (event.altKey) {
          resizeTo(selected, boxes[selected][2] + moves[event.key][0], boxes[selected][3] + moves[event.key][1]);
        } else {
          moveTo(selected, boxes[selected][0] + moves[event.key][0], boxes[selected][1] + moves[event.key][1]);
        }
        write();
      }
    });
    field.addEventListener("input", function () {
      boxes = parse(field.value);
      selected = Math.min(selected, boxes.length - 1);
      announce();
      draw();
    });

    tools.appendChild(button("上一个框", function () { cycle(-1); }));
    tools.appendChild(button("下一个框", function () { cycle(1); }));
    tools.appendChild(button("删除所选框", function () { remove(); canvas.focus(); }));
    announce();
    if (image.complete) { size(); } else { image.addEventListener("load", size); }
    window.addEventListener("resize", size);
  });
})();
