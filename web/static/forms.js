// Progressive enhancement of the listing and request forms: the grade list offers only the
// grades of the chosen material. Without this script every grade shows, grouped by material,
// and the server refuses a grade of another material with a field error.
(function () {
  "use strict";
  var material = document.getElementById("material");
  var grade = document.getElementById("grade_version_id");
  if (!material || !grade) { return; }
  function narrow() {
    var chosen = material.value;
    Array.prototype.forEach.call(grade.querySelectorAll("optgroup"), function (group) {
      var options = group.querySelectorAll("option");
      var match = !chosen || (options.length && options[0].getAttribute("data-material") === chosen);
      group.hidden = !match;
      group.disabled = !match;
    });
    var selected = grade.options[grade.selectedIndex];
    if (selected && selected.value && chosen && selected.getAttribute("data-material") !== chosen) {
      grade.value = "";
    }
  }
  material.addEventListener("change", narrow);
  narrow();
})();
