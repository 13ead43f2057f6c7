// The work page: keyboard shortcuts, the subquestion form selects, and the lease heartbeat.
(function () {
  "use strict";
  var task = document.getElementById("task");
  if (!task) return;

  // each subquestion shows the slots of its chosen form only
  function showSlots(fieldset) {
    var choice = fieldset.querySelector(".form-choice");
    fieldset.querySelectorAll(".slots").forEach(function (slots) {
      var on = slots.dataset.form === choice.value;
      slots.hidden = !on;
      slots.querySelectorAll("select").forEach(function (s) { s.disabled = !on; });
    });
  }
  document.querySelectorAll("fieldset.subquestion").forEach(function (fieldset) {
    var choice = fieldset.querySelector(".form-choice");
    choice.addEventListener("change", function () { showSlots(fieldset); });
    showSlots(fieldset);
  });

  // keyboard shortcuts
  var help = document.getElementById("help");
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA");
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var key = event.key;
    if (key === "a") {
      var answer = document.getElementById("answer");
      if (answer) { answer.focus(); event.preventDefault(); }
    } else if (key === "s") {
      var first = document.getElementById("q1_form") || document.getElementById("q1_text");
      var second = document.getElementById("q2_form") || document.getElementById("q2_text");
      if (!first) return;
      if (document.activeElement && document.activeElement.closest("#ask-form") && second) {
        if (second.value === "none") { second.selectedIndex = 1; showSlots(document.getElementById("q2")); }
        second.focus();
      } else {
        first.focus();
      }
      event.preventDefault();
    } else if (key === "Enter") {
      var form = document.activeElement && document.activeElement.closest("form.move");
      if (form) { event.preventDefault(); form.requestSubmit(); }
    } else if (key === "?") {
      help.classList.toggle("collapsed");
      event.preventDefault();
    }
  });

  // the lease: a heartbeat every lease / 3 seconds while the page is open
  var leaseUntil = parseFloat(task.dataset.leaseUntil);
  var left = document.getElementById("lease-left");
  function tick() {
    if (left) left.textContent = Math.max(0, Math.round(leaseUntil - Date.now() / 1000));
  }
  tick();
  setInterval(tick, 1000);
  function heartbeat() {
    var body = new URLSearchParams({
      csrf: task.dataset.csrf, assignment: task.dataset.assignment, fence: task.dataset.fence
    });
    fetch("/work/heartbeat", {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (r) { return r.json(); }).then(function (data) {
      if (data.lease_until) { leaseUntil = data.lease_until; tick(); }
      else if (data.error) { task.dataset.lost = data.error; }
    }).catch(function () {});
  }
  setInterval(heartbeat, Math.max(1000, parseInt(task.dataset.heartbeatMs, 10)));
})();
