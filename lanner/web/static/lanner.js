// Lanner's triage UI: select alerts for a status change, ask for a status change's
// confirmation, copy a guide's queries, filter an event's fields. Plain DOM, no
// innerHTML: every text the page shows came escaped from the server.

function bulkSelection() {
  const form = document.getElementById("bulk");
  if (!form) return;
  const all = document.getElementById("select-all");
  const count = document.getElementById("selected-count");
  const boxes = () => Array.from(form.querySelectorAll('input[name="id"]'));
  const update = () => {
    const chosen = boxes().filter((box) => box.checked).length;
    count.textContent = String(chosen);
    document.getElementById("bulk-apply").disabled = chosen === 0;
  };
  all.addEventListener("change", () => {
    for (const box of boxes()) box.checked = all.checked;
    update();
  });
  form.addEventListener("change", update);
  update();
}

function copyButtons() {
  for (const block of document.querySelectorAll(".guide pre")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(block.querySelector("code")?.textContent ?? block.textContent);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Copy failed";
      }
    });
    block.appendChild(button);
  }
}

function fieldFilter() {
  const input = document.querySelector(".field-filter");
  if (!input) return;
  input.addEventListener("input", () => {
    const wanted = input.value.toLowerCase();
    for (const row of document.querySelectorAll(".event .fields tr")) {
      row.hidden = wanted !== "" && !row.textContent.toLowerCase().includes(wanted);
    }
  });
}

bulkSelection();
copyButtons();
fieldFilter();
