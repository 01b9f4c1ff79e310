#!/usr/bin/env bash
# browser.sh check DECK.html [lightning]: opens the built deck in headless Chromium at 1280 x 720
# and goes through every slide as the audience sees it. One line per problem, and exit status 1:
#   - a slide whose content does not fit inside the slide (it would be cut off), or a code line
#     wider than its box;
#   - a slide without speaker notes, or notes without a time mark ("[12:30]"; "[⚡ 4:00]" on the
#     lightning path; "[auto]" on a slide build.sh made);
#   - more than two figures on a slide, a figure that did not load, or any text (the slide's or a
#     figure's, at the size the figure is drawn) under 12 px.
# Then one line per slide, "slide N: ... fills P% ...", and a summary.
# browser.sh pdf DECK.html OUT.pdf: prints the deck with the same browser, one page per slide.
# Chromium is Debian's (scripts/need chromium); it runs with a fresh profile in a temporary
# directory, no sandbox (we are often root in a container), no GPU, no network of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 64; }
[ $# -ge 2 ] || usage
mode=$1 deck=$2
[ -f "$deck" ] || { echo "browser.sh: no $deck (make slides)" >&2; exit 1; }
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || { echo "browser.sh: no chromium (scripts/need chromium)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/deck-browser.XXXXXX")
trap 'rm -rf "$work"' EXIT
browser() {
    # Chromium's own chatter (dbus, GPU, fontconfig) goes to its log, shown only on failure.
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --no-default-browser-check \
        --disable-extensions --hide-scrollbars --mute-audio --user-data-dir="$work/profile" \
        --window-size=1280,720 "$@" 2>"$work/chromium.log"
}

# The check runs in the page: it walks the slides with remark's own gotoSlide and measures
# what the layout engine drew. Results go into a <pre id="deck-check"> that --dump-dom prints.
CHECK_JS='
(function () {
  var lightning = location.hash.indexOf("lightning") >= 0;
  function svgText(img) {
    var src = img.getAttribute("src") || "", i = src.indexOf("base64,");
    return i < 0 ? "" : atob(src.slice(i + 7));
  }
  function check() {
    var out = [], info = [], n = slideshow.getSlideCount(), figures = 0, scale = 0;
    var containers = document.querySelectorAll(".remark-slides-area > .remark-slide-container");
    for (var i = 0; i < n; i++) {
      slideshow.gotoSlide(i + 1);
      var c = containers[i], scaler = c.querySelector(".remark-slide-scaler");
      var slide = c.querySelector(".remark-slide"), content = c.querySelector(".remark-slide-content");
      var box = scaler.getBoundingClientRect();
      scale = box.width / scaler.offsetWidth;
      var h1 = content.querySelector("h1");
      var name = "slide " + (i + 1) + " (" + (h1 ? h1.textContent.trim().slice(0, 50) : "untitled") + ")";
      function bad(what) { out.push(name + ": " + what); }
      if (slide.offsetHeight > scaler.offsetHeight + 1)
        bad("does not fit: " + slide.offsetHeight + " px of content in a " + scaler.offsetHeight + " px slide");
      if (slide.offsetWidth > scaler.offsetWidth + 1)
        bad("does not fit: " + slide.offsetWidth + " px wide in a " + scaler.offsetWidth + " px slide");
      var bottom = box.top, all = content.querySelectorAll("*");
      for (var k = 0; k < all.length; k++) {
        var el = all[k], r = el.getBoundingClientRect();
        if (el.classList.contains("remark-slide-number") || r.width === 0) continue;
        if (r.bottom > bottom) bottom = r.bottom;
        if (r.right > box.right + 1 || r.bottom > box.bottom + 1)
          bad("<" + el.tagName.toLowerCase() + "> reaches past the edge of the slide: \"" + el.textContent.trim().slice(0, 40) + "\"");
        if (el.tagName === "PRE" && el.scrollWidth > el.clientWidth + 1)
          bad("a code line is wider than its box: \"" + el.textContent.trim().slice(0, 40) + "\"");
        for (var t = el.firstChild; t; t = t.nextSibling) {
          if (t.nodeType !== 3 || !t.textContent.trim()) continue;
          var px = parseFloat(getComputedStyle(el).fontSize) * scale;
          if (px < 12) bad("text of " + px.toFixed(1) + " px: \"" + t.textContent.trim().slice(0, 40) + "\"");
          break;
        }
      }
      var notes = c.querySelector(".remark-slide-notes"), text = notes ? notes.textContent.trim() : "";
      if (!text) bad("no speaker notes");
      else if (lightning ? !/\[\u26a1 ?\d+:\d\d\]|\[auto\]/.test(text) : !/\[\d+:\d\d\]|\[auto\]/.test(text))
        bad("notes with no time mark " + (lightning ? "[\u26a1 M:SS]" : "[M:SS]"));
      var imgs = content.querySelectorAll("img");
      if (imgs.length > 2) bad(imgs.length + " figures (two at most)");
      var smallest = "";
      for (var j = 0; j < imgs.length; j++) {
        var img = imgs[j], fig = img.getAttribute("data-name") || img.alt;
        figures++;
        if (!img.complete || !img.naturalWidth) { bad("figure " + fig + " did not load"); continue; }
        var svg = svgText(img), w = /<svg[^>]*\swidth="([\d.]+)"/.exec(svg);
        var sizes = svg.match(/font-size="[\d.]+"/g) || [];
        var min = Infinity;
        sizes.forEach(function (s) { min = Math.min(min, parseFloat(s.slice(11))); });
        if (!w || min === Infinity) continue;
        var drawn = img.getBoundingClientRect().width / parseFloat(w[1]);
        var px = min * drawn;
        smallest += " " + fig + " " + px.toFixed(1) + " px";
        if (px < 12) bad("figure " + fig + ": its smallest text is " + px.toFixed(1) + " px (" + min + " px drawn at " + drawn.toFixed(2) + ")");
      }
      info.push(name + ": fills " + Math.round(100 * (bottom - box.top) / box.height) + "% of the height" +
                (smallest ? "; smallest figure text:" + smallest : ""));
    }
    var area = document.querySelector(".remark-slides-area");
    info.push("drawn in " + area.clientWidth + " x " + area.clientHeight + " px, at " + scale.toFixed(3) + " px per slide px");
    var pre = document.createElement("pre");
    pre.id = "deck-check";
    pre.textContent = out.concat(info, ["checked " + n + " slides, " + figures + " figures: " + out.length + " problem(s)"]).join("\n");
    document.body.appendChild(pre);
  }
  // Headless Chromium gives its page less than the window: draw the deck in a 1280 x 720 box,
  // the size a projector shows, whatever the viewport.
  window.addEventListener("load", function () {
    var style = document.createElement("style");
    style.textContent = "html.remark-container, body.remark-container { width: 1280px !important; height: 720px !important; }";
    document.head.appendChild(style);
    window.dispatchEvent(new Event("resize"));
    setTimeout(check, 200);
  });
})();
'

case $mode in
check)
    page="$work/check.html"
    sed '/<\/body>/d; /<\/html>/d' "$deck" >"$page"
    printf '<script>%s</script>\n</body>\n</html>\n' "$CHECK_JS" >>"$page"
    hash=""
    [ "${3:-}" = lightning ] && hash="#lightning"
    # The hash is remark's slide number too: start at slide 1 either way.
    browser --virtual-time-budget=20000 --dump-dom "file://$page${hash:+#1$hash}" >"$work/dom" ||
        { cat "$work/chromium.log" >&2; echo "browser.sh: chromium failed" >&2; exit 1; }
    result=$(sed -n '/<pre id="deck-check">/,/<\/pre>/p' "$work/dom" | sed 's/<pre id="deck-check">//; s|</pre>.*||' |
        sed 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&amp;/\&/g')
    [ -n "$result" ] || { tail -5 "$work/chromium.log" >&2; echo "browser.sh: the check did not run in the page" >&2; exit 1; }
    echo "$result"
    grep -q ': 0 problem(s)$' <<<"$result"
    ;;
pdf)
    [ $# -eq 3 ] || usage
    pdf=$3
    browser --virtual-time-budget=20000 --no-pdf-header-footer --print-to-pdf="$work/out.pdf" \
        "file://$(realpath "$deck")" >/dev/null ||
        { cat "$work/chromium.log" >&2; echo "browser.sh: chromium failed" >&2; exit 1; }
    [ -s "$work/out.pdf" ] || { echo "browser.sh: chromium wrote no PDF" >&2; exit 1; }
    mv "$work/out.pdf" "$pdf"
    echo "wrote $pdf ($(grep -a -o '/Type */Pages\?' "$pdf" | grep -c 'Page$') pages)" >&2
    ;;
*) usage ;;
esac
