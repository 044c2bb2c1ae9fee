// The studio's YAML editor: CodeMirror 5 (vendored) with problems checked as you type.
// Wired by the form's data- attributes; no inline scripts (the CSP forbids them).
(function () {
  const form = document.getElementById("studio-form");
  if (!form || !window.CodeMirror) return;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
  const list = document.getElementById("problems");
  const save = document.getElementById("save");
  const post = async (url, body) => {
    const answer = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    });
    return { ok: answer.ok, body: await answer.json() };
  };
  const show = (problems) => {
    list.replaceChildren();
    for (const p of problems) {
      const line = document.createElement("p");
      line.className = p.severity === "error" ? "error" : "muted";
      line.dataset.line = String(p.line);
      line.textContent = p.text;
      list.append(line);
    }
    const errors = problems.filter((p) => p.severity === "error").length;
    save.disabled = errors > 0;
    form.dataset.errors = String(errors);
  };
  // CodeMirror's lint addon calls this with the text; it answers with located problems.
  const lint = (text, done) => {
    post(form.dataset.check, { source: text, name: form.dataset.name }).then(({ ok, body }) => {
      const problems = ok ? body.problems : [];
      show(problems);
      done(problems.map((p) => ({
        from: CodeMirror.Pos(p.line - 1, Math.max(0, p.column - 1)),
        to: CodeMirror.Pos(p.line - 1, 1000),
        message: p.message,
        severity: p.severity === "error" ? "error" : "warning",
      })));
    });
  };
  lint.async = true;
  const editor = CodeMirror.fromTextArea(document.getElementById("source"), {
    mode: "yaml",
    lineNumbers: true,
    indentUnit: 2,
    tabSize: 2,
    lineWrapping: true,
    viewportMargin: Infinity, // the page scrolls, not the editor: every line is in the page
    extraKeys: { Tab: (cm) => cm.replaceSelection("  ") },
    gutters: ["CodeMirror-lint-markers"],
    lint: { getAnnotations: lint, async: true, delay: 400 },
  });
  window.crmflowEditor = editor; // for the browser tests and the curious
  form.addEventListener("submit", () => editor.save());
  document.getElementById("run-scenario")?.addEventListener("click", async () => {
    const out = document.getElementById("simulation");
    out.textContent = "…";
    const { ok, body } = await post(form.dataset.simulate, {
      source: editor.getValue(),
      scenario: document.getElementById("scenario").value,
    });
    out.textContent = ok ? body.text : (body.error?.message ?? "error");
    out.dataset.ok = ok && body.ok ? "true" : "false";
  });
})();
