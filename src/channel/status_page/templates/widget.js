/* tidings status widget: a banner with the page's current status.
 *
 * Embed it with a script element whose src is this file on your status page
 * (for example https://status.example.com/widget.js), marked async.
 * It reads api/v2/summary.json next to this script and shows its description,
 * linked to the status page, and the names of up to three open incidents.
 * Options (attributes on the script tag):
 *   data-target="element-id"  put the banner in that element instead of after the script;
 *   data-hide-when-operational  show nothing while the indicator is "none".
 * Served from another origin than the embedding site, api/v2/ needs the
 * header Access-Control-Allow-Origin: *.
 * No external assets; text is set with textContent, never as HTML, and each
 * incident name sits in its own <bdi> element, so bidirectional control
 * characters in it cannot reorder the text around it. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src || !window.fetch) { return; }
  var root = new URL(".", script.src);
  var statusUrl = new URL("api/v2/summary.json", root);
  var colours = {
    none: ["#e7f5ec", "#0d3b1d", "#1e7b3d"],
    minor: ["#fff6db", "#3d2b00", "#8a6100"],
    major: ["#ffeadb", "#451e00", "#a34700"],
    critical: ["#fde4e4", "#4a0b0b", "#a61b1b"]
  };
  var hideWhenOperational = script.hasAttribute("data-hide-when-operational");
  var targetId = script.getAttribute("data-target");
  fetch(statusUrl.href, { cache: "no-cache", credentials: "omit" })
    .then(function (response) {
      if (!response.ok) { throw new Error("status " + response.status); }
      return response.json();
    })
    .then(function (data) {
      var status = (data && data.status) || {};
      var indicator = Object.prototype.hasOwnProperty.call(colours, status.indicator) ? status.indicator : "minor";
      if (hideWhenOperational && indicator === "none") { return; }
      var description = typeof status.description === "string" ? status.description : "Status unknown";
      var palette = colours[indicator];
      var banner = document.createElement("div");
      banner.setAttribute("role", "status");
      banner.setAttribute("aria-live", "polite");
      banner.className = "tidings-status tidings-status-" + indicator;
      banner.style.cssText = "font:1rem/1.4 system-ui,sans-serif;padding:.5rem .75rem;border:2px solid " +
        palette[2] + ";border-radius:.4rem;background:" + palette[0] + ";color:" + palette[1] + ";";
      var link = document.createElement("a");
      link.href = root.href;
      link.style.cssText = "color:inherit;font-weight:700;";
      link.textContent = description;
      banner.appendChild(link);
      banner.appendChild(document.createTextNode(" \u2014 view the status page"));
      var incidents = Array.isArray(data && data.incidents) ? data.incidents : [];
      var names = [];
      for (var i = 0; i < incidents.length && names.length < 3; i++) {
        if (incidents[i] && typeof incidents[i].name === "string") { names.push(incidents[i].name); }
      }
      if (names.length) {
        var list = document.createElement("ul");
        list.style.cssText = "margin:.25rem 0 0;padding-left:1.25rem;";
        for (var n = 0; n < names.length; n++) {
          var item = document.createElement("li");
          var name = document.createElement("bdi");
          name.setAttribute("dir", "auto");
          name.textContent = names[n];
          item.appendChild(name);
          list.appendChild(item);
        }
        banner.appendChild(list);
      }
      var target = targetId && document.getElementById(targetId);
      if (target) {
        target.textContent = "";
        target.appendChild(banner);
      } else if (script.parentNode) {
        script.parentNode.insertBefore(banner, script.nextSibling);
      }
    })
    ["catch"](function () { /* the banner is optional: stay silent */ });
}());
