// Request form: show the policy's answer for the reason picked, instead of the whole list.
// Without JavaScript the list stays in its <details>, reason by reason.
document.addEventListener("DOMContentLoaded", function () {
  var select = document.getElementById("id_reason");
  var box = document.querySelector("[data-hints]");
  if (!select || !box) { return; }
  var hints = box.querySelectorAll(".hint");
  function show() {
    var any = false;
    hints.forEach(function (hint) {
      var current = hint.getAttribute("data-reason") === select.value;
      hint.hidden = !current;
      any = any || current;
    });
    box.hidden = !any;
  }
  box.open = true;
  box.classList.add("js-hints");
  box.setAttribute("aria-live", "polite");
  select.addEventListener("change", show);
  show();
});
