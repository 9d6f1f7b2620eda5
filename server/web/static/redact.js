// Redaction box editor: drag on a redacted image to add a rectangle; the rectangles are written
// to the photo's textarea as normalised "x, y, 宽, 高" lines (0–1), which the form then posts.
// The server burns the boxes into a new image; nothing here changes pixels or reaches originals.
(function () {
  "use strict";
  function lines(boxes) {
    return boxes.map(function (b) { return b.map(function (v) { return v.toFixed(4); }).join(", "); }).join("\n");
  }
  function parse(text) {
    return text.split("\n").map(function (line) {
      var parts = line.split(/[,，]/).map(Number);
      return parts.length === 4 && parts.every(isFinite) ? parts : null;
    }).filter(Boolean);
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
    wrapper.appendChild(canvas);
    var context = canvas.getContext("2d");
    var start = null, current = null;
    function size() {
      canvas.width = image.clientWidth;
      canvas.height = image.clientHeight;
      draw();
    }
    function draw() {
      context.clearRect(0, 0, canvas.width, canvas.height);
      context.strokeStyle = "#e60012";
      context.lineWidth = 2;
      parse(field.value).concat(current ? [current] : []).forEach(function (b) {
        context.strokeRect(b[0] * canvas.width, b[1] * canvas.height, b[2] * canvas.width, b[3] * canvas.height);
      });
    }
    function point(event) {
      var rect = canvas.getBoundingClientRect();
      return [Math.min(Math.max((event.clientX - rect.left) / rect.width, 0), 1),
              Math.min(Math.max((event.clientY - rect.top) / rect.height, 0), 1)];
    }
    canvas.addEventListener("pointerdown", function (event) { start = point(event); canvas.setPointerCapture(event.pointerId); });
    canvas.addEventListener("pointermove", function (event) {
      if (!start) { return; }
      var p = point(event);
      current = [Math.min(start[0], p[0]), Math.min(start[1], p[1]), Math.abs(p[0] - start[0]), Math.abs(p[1] - start[1])];
      draw();
    });
    canvas.addEventListener("pointerup", function () {
      if (current && current[2] > 0.005 && current[3] > 0.005) {
        field.value = lines(parse(field.value).concat([current]));
      }
      start = null; current = null;
      draw();
    });
    field.addEventListener("input", draw);
    if (image.complete) { size(); } else { image.addEventListener("load", size); }
    window.addEventListener("resize", size);
  });
})();
