// Runs the status page's widget.js in Node.js against a small DOM: the
// script element that loaded it, createElement/createTextNode, and a fetch
// that answers with the summary.json it is given. Prints what the widget
// built, as JSON. Any attempt to write HTML (innerHTML, outerHTML,
// insertAdjacentHTML, document.write) is recorded.
//
// usage: node run.js <widget.js> <summary.json>
"use strict";
const fs = require("fs");
const vm = require("vm");

const [widgetPath, summaryPath] = process.argv.slice(2);
let htmlWritten = false;
let fetched = null;

class Node {
  constructor(tag) {
    this.tagName = tag;
    this.children = [];
    this.attributes = {};
    this.style = {};
    this.parentNode = null;
    this._text = "";
  }
  appendChild(child) { child.parentNode = this; this.children.push(child); return child; }
  insertBefore(child, ref) {
    child.parentNode = this;
    const at = ref ? this.children.indexOf(ref) : -1;
    if (at < 0) { this.children.push(child); } else { this.children.splice(at, 0, child); }
    return child;
  }
  setAttribute(name, value) { this.attributes[name] = String(value); }
  getAttribute(name) { return Object.prototype.hasOwnProperty.call(this.attributes, name) ? this.attributes[name] : null; }
  hasAttribute(name) { return Object.prototype.hasOwnProperty.call(this.attributes, name); }
  get textContent() { return this.tagName === "#text" ? this._text : this.children.map((c) => c.textContent).join(""); }
  set textContent(value) { this.children = []; if (this.tagName === "#text") { this._text = String(value); } else if (value !== "") { this.appendChild(text(String(value))); } }
  set innerHTML(_) { htmlWritten = true; }
  set outerHTML(_) { htmlWritten = true; }
  insertAdjacentHTML() { htmlWritten = true; }
  get nextSibling() {
    if (!this.parentNode) { return null; }
    const siblings = this.parentNode.children;
    return siblings[siblings.indexOf(this) + 1] || null;
  }
}
function text(value) { const n = new Node("#text"); n._text = value; return n; }

const body = new Node("body");
const script = new Node("script");
script.src = "https://status.example.com/widget.js";
body.appendChild(script);

const sandbox = {
  URL,
  Promise,
  JSON,
  Object,
  Array,
  document: {
    currentScript: script,
    createElement: (tag) => new Node(tag),
    createTextNode: text,
    getElementById: () => null,
    write: () => { htmlWritten = true; },
  },
  fetch: (url, options) => {
    fetched = url;
    if (!options || options.credentials !== "omit") { throw new Error("credentials sent"); }
    const summary = JSON.parse(fs.readFileSync(summaryPath, "utf8"));
    return Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(summary) });
  },
};
sandbox.window = sandbox;
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(widgetPath, "utf8"), sandbox, { filename: widgetPath });

setTimeout(() => {
  const banner = body.children[1];
  if (!banner) { console.error("the widget added nothing"); process.exit(1); }
  const link = banner.children.find((c) => c.tagName === "a");
  const list = banner.children.find((c) => c.tagName === "ul");
  const names = list ? list.children.map((li) => li.children[0]).map((n) => ({
    tag: n.tagName, dir: n.getAttribute("dir"), text: n.textContent,
  })) : [];
  process.stdout.write(JSON.stringify({
    fetched,
    role: banner.getAttribute("role"),
    link: link ? { href: link.href, text: link.textContent } : null,
    names,
    html_written: htmlWritten,
  }));
}, 50);
