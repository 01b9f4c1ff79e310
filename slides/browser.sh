#!/usr/bin/env bash
# browser.sh check DECK.html [lightning]: opens the built deck in headless Chromium in a 1024 x 768
# window, the smallest projector the talk plans for, and goes through every slide as the audience
# sees it. One line per problem, and exit status 1:
#   - a slide whose content does not fit inside the slide (it would be cut off), or a code line
#     wider than its box;
#   - a slide without speaker notes, or notes without a time mark ("[12:30]"; "[⚡ 4:00]" on the
#     lightning path; "[auto]" on a slide build.sh made; "[backup]" on a slide kept for questions);
#   - more than two figures on a slide, a figure that did not load, or any text under 14 px on the
#     screen: the slide's own, or a figure's, each SVG <text> measured by the layout engine at the
#     size the figure is drawn (its font size through every transform and the viewBox's scale).
# Then one line per slide, "slide N: ... fills P% ...; smallest text ...", and a summary.
#
# Why 14 px at 1024 x 768. The usual rule for a room is that its farthest seat is at most 8 times
# the picture's height away. DejaVu Sans capitals are 0.73 em tall: at 14 px a capital is 10.2 px,
# 1/75 of the 768 px picture, and from 8 picture heights it subtends 10.2 / (768 x 8) rad = 5.7
# arc minutes. 5 arc minutes is the letter of the 20/20 line of a Snellen chart, the smallest a
# normal eye reads; 12 px (4.9') is below it. So 14 px is the smallest text the back row can read.
# A 16:9 slide (1210 x 681 slide px) fills a 1024 px wide window at 0.846: 14 px on the screen is
# 16.5 slide px, which is why build.sh's smallest text is 17 px and why a figure is drawn alone.
#
# browser.sh pdf DECK.html OUT.pdf: prints the deck with the same browser, one page per slide.
# browser.sh notes DECK.html OUT.pdf: prints the speaker's handout, one A4 page per slide: the
# slide at the top, its speaker notes (time marks, what to say and point at) under it.
# Chromium is Debian's (scripts/need chromium); it runs with a fresh profile in a temporary
# directory, no sandbox (we are often root in a container), no GPU, no network of its own.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,24s/^# \{0,1\}//p' "$0" >&2; exit 64; }
[ $# -ge 2 ] || usage
mode=$1 deck=$2
[ -f "$deck" ] || { echo "browser.sh: no $deck (make slides)" >&2; exit 1; }
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || { echo "browser.sh: no chromium (scripts/need chromium)" >&2; exit 1; }
# The window the check draws the deck in, and the smallest text it lets through there (above).
WINDOW_W=1024 WINDOW_H=768 MIN_TEXT_PX=14

work=$(mktemp -d "${TMPDIR:-/tmp}/deck-browser.XXXXXX")
trap 'rm -rf "$work"' EXIT
browser() {
    # Chromium's own chatter (dbus, GPU, fontconfig) goes to its log, shown only on failure.
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --no-default-browser-check \
        --disable-extensions --hide-scrollbars --mute-audio --user-data-dir="$work/profile" \
        --window-size=$WINDOW_W,$WINDOW_H "$@" 2>"$work/chromium.log"
}

# The check runs in the page: it walks the slides with remark's own gotoSlide and measures
# what the layout engine drew. Results go into a <pre id="deck-check"> that --dump-dom prints.
# __MIN__, __W__ and __H__ are MIN_TEXT_PX and the window's size.
CHECK_JS='
(function () {
  var MIN = __MIN__, lightning = location.hash.indexOf("lightning") >= 0;
  function svgText(img) {
    var src = img.getAttribute("src") || "", i = src.indexOf("base64,");
    return i < 0 ? "" : decodeURIComponent(escape(atob(src.slice(i + 7))));
  }
  // figureText(img): the smallest text of the figure as the screen shows it, and which text:
  // the SVG is put in the page, off the slides, at the size the <img> is drawn (an <img> of an
  // SVG keeps its aspect, as the viewBox meets the box), and each <text> and <tspan> with
  // letters of its own is measured: its computed font size times its screen transform.
  function figureText(img) {
    var doc = new DOMParser().parseFromString(svgText(img), "image/svg+xml"), svg = doc.documentElement;
    if (!svg || svg.nodeName !== "svg") return null;
    if (!svg.getAttribute("viewBox"))
      svg.setAttribute("viewBox", "0 0 " + parseFloat(svg.getAttribute("width")) + " " + parseFloat(svg.getAttribute("height")));
    var r = img.getBoundingClientRect(), holder = document.createElement("div");
    holder.style.cssText = "position:absolute;left:0;top:0;visibility:hidden;width:" + r.width + "px;height:" + r.height + "px";
    var node = document.importNode(svg, true);
    node.setAttribute("width", r.width);
    node.setAttribute("height", r.height);
    holder.appendChild(node);
    document.body.appendChild(holder);
    var min = { px: Infinity, text: "" }, texts = node.querySelectorAll("text, tspan");
    for (var i = 0; i < texts.length; i++) {
      var t = texts[i], own = "";
      for (var c = t.firstChild; c; c = c.nextSibling) if (c.nodeType === 3) own += c.textContent;
      if (!own.trim()) continue;
      var m = t.getScreenCTM();
      if (!m) continue;
      var px = parseFloat(getComputedStyle(t).fontSize) * Math.sqrt(Math.abs(m.a * m.d - m.b * m.c));
      if (px < min.px) min = { px: px, text: own.trim().slice(0, 30) };
    }
    document.body.removeChild(holder);
    return min.px === Infinity ? null : min;
  }
  function check() {
    var out = [], info = [], n = slideshow.getSlideCount(), figures = 0, scale = 0;
    var least = { px: Infinity, where: "" }, leastFig = { px: Infinity, where: "" };
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
      var bottom = box.top, all = content.querySelectorAll("*"), smallest = Infinity;
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
          if (px < smallest) smallest = px;
          if (px < MIN) bad("text of " + px.toFixed(1) + " px: \"" + t.textContent.trim().slice(0, 40) + "\"");
          break;
        }
      }
      if (smallest < least.px) least = { px: smallest, where: name };
      var notes = c.querySelector(".remark-slide-notes"), text = notes ? notes.textContent.trim() : "";
      if (!text) bad("no speaker notes");
      else if (lightning ? !/\[\u26a1 ?\d+:\d\d\]|\[auto\]|\[backup\]/.test(text) : !/\[\d+:\d\d\]|\[auto\]|\[backup\]/.test(text))
        bad("notes with no time mark " + (lightning ? "[\u26a1 M:SS]" : "[M:SS]"));
      var imgs = content.querySelectorAll("img"), figs = "";
      if (imgs.length > 2) bad(imgs.length + " figures (two at most)");
      for (var j = 0; j < imgs.length; j++) {
        var img = imgs[j], fig = img.getAttribute("data-name") || img.alt;
        figures++;
        if (!img.complete || !img.naturalWidth) { bad("figure " + fig + " did not load"); continue; }
        var f = figureText(img);
        if (!f) continue;
        figs += " " + fig + " " + f.px.toFixed(1) + " px";
        if (f.px < leastFig.px) leastFig = { px: f.px, where: fig + " on " + name };
        if (f.px < MIN) bad("figure " + fig + ": its smallest text is " + f.px.toFixed(1) + " px (\"" + f.text + "\")");
      }
      info.push(name + ": fills " + Math.round(100 * (bottom - box.top) / box.height) + "% of the height" +
                (smallest < Infinity ? "; smallest text " + smallest.toFixed(1) + " px" : "") +
                (figs ? "; smallest figure text:" + figs : ""));
    }
    var area = document.querySelector(".remark-slides-area");
    info.push("drawn in " + area.clientWidth + " x " + area.clientHeight + " px, at " + scale.toFixed(3) + " px per slide px");
    info.push("smallest text: " + least.px.toFixed(1) + " px, " + least.where + "; smallest figure text: " +
              (leastFig.px < Infinity ? leastFig.px.toFixed(1) + " px, " + leastFig.where : "none") + "; at least " + MIN + " px wanted");
    var pre = document.createElement("pre");
    pre.id = "deck-check";
    pre.textContent = out.concat(info, ["checked " + n + " slides, " + figures + " figures: " + out.length + " problem(s)"]).join("\n");
    document.body.appendChild(pre);
  }
  // Headless Chromium gives its page less than the window: draw the deck in a box of the
  // window size, the size a projector shows, whatever the viewport.
  window.addEventListener("load", function () {
    var style = document.createElement("style");
    style.textContent = "html.remark-container, body.remark-container { width: __W__px !important; height: __H__px !important; }";
    document.head.appendChild(style);
    window.dispatchEvent(new Event("resize"));
    setTimeout(check, 200);
  });
})();
'

# The speaker's handout, built in the page from what remark drew: a page per slide, the slide
# (a copy of it, scaled to the page's width) and its notes; the slideshow itself is not printed.
NOTES_JS='
(function () {
  window.addEventListener("load", function () {
    setTimeout(function () {
      var containers = document.querySelectorAll(".remark-slides-area > .remark-slide-container");
      var handout = document.createElement("div"), n = containers.length;
      handout.id = "handout";
      for (var i = 0; i < n; i++) {
        var c = containers[i], page = document.createElement("section"), head = document.createElement("div");
        page.className = "handout-page";
        head.className = "handout-head";
        var h1 = c.querySelector(".remark-slide-content h1");
        head.textContent = (i + 1) + " / " + n + (h1 ? "  " + h1.textContent.trim() : "");
        var frame = document.createElement("div"), box = document.createElement("div");
        frame.className = "handout-frame";
        box.className = "handout-slide";
        box.appendChild(c.querySelector(".remark-slide").cloneNode(true));
        frame.appendChild(box);
        var notes = document.createElement("div"), source = c.querySelector(".remark-slide-notes");
        notes.className = "handout-notes";
        notes.innerHTML = source ? source.innerHTML : "";
        page.appendChild(head);
        page.appendChild(frame);
        page.appendChild(notes);
        handout.appendChild(page);
      }
      document.documentElement.className = "";
      document.body.className = "";
      document.body.appendChild(handout);
      var style = document.createElement("style");
      style.textContent = "@page { size: A4 portrait; margin: 12mm; }" +
        "html, body { width: auto !important; height: auto !important; overflow: visible !important; background: #fff; }" +
        "body > *:not(#handout) { display: none !important; }" +
        ".handout-page { break-after: page; page-break-after: always; }" +
        ".handout-head { font-size: 12px; color: #555; margin-bottom: 4px; }" +
        ".handout-frame { width: 700px; height: 394px; overflow: hidden; border: 1px solid #999; }" +
        ".handout-slide { width: 1210px; height: 681px; transform: scale(0.5785); transform-origin: top left; }" +
        ".handout-notes { font-size: 14px; line-height: 1.35; margin-top: 10px; }" +
        ".handout-notes p { margin: 0 0 0.5em; } .handout-notes ul { margin: 0 0 0.5em; padding-left: 1.2em; }";
      document.head.appendChild(style);
      var with_notes = 0;
      for (var k = 0; k < handout.children.length; k++)
        if (handout.children[k].querySelector(".handout-notes").textContent.trim()) with_notes++;
      var count = document.createElement("pre");
      count.id = "handout-count";
      count.style.display = "none";
      count.textContent = n + " pages, " + with_notes + " with notes";
      document.body.appendChild(count);
    }, 200);
  });
})();
'

# inject JS OUT: the deck with JS run in it, as a page beside it.
inject() {
    sed '/<\/body>/d; /<\/html>/d' "$deck" >"$2"
    printf '<script>%s</script>\n</body>\n</html>\n' "$1" >>"$2"
}

# print_pdf PAGE OUT.pdf: prints PAGE to OUT.pdf with the browser, and says how many pages.
print_pdf() {
    browser --virtual-time-budget=20000 --no-pdf-header-footer --print-to-pdf="$work/out.pdf" \
        "file://$(realpath "$1")" >/dev/null ||
        { cat "$work/chromium.log" >&2; echo "browser.sh: chromium failed" >&2; exit 1; }
    [ -s "$work/out.pdf" ] || { echo "browser.sh: chromium wrote no PDF" >&2; exit 1; }
    mv "$work/out.pdf" "$2"
    echo "wrote $2 ($(grep -a -o '/Type */Pages\?' "$2" | grep -c 'Page$') pages)" >&2
}

case $mode in
check)
    page="$work/check.html"
    inject "$(sed "s/__MIN__/$MIN_TEXT_PX/; s/__W__/$WINDOW_W/; s/__H__/$WINDOW_H/" <<<"$CHECK_JS")" "$page"
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
    print_pdf "$deck" "$3"
    ;;
notes)
    [ $# -eq 3 ] || usage
    inject "$NOTES_JS" "$work/notes.html"
    print_pdf "$work/notes.html" "$3"
    # What the pages hold, from the same page: a slide whose notes did not make it is a hole in
    # the handout.
    browser --virtual-time-budget=20000 --dump-dom "file://$work/notes.html" >"$work/dom" ||
        { cat "$work/chromium.log" >&2; echo "browser.sh: chromium failed" >&2; exit 1; }
    count=$(sed -n 's/.*<pre id="handout-count"[^>]*>\([^<]*\)<.*/\1/p' "$work/dom")
    echo "the handout: ${count:-nothing}" >&2
    [[ $count =~ ^([0-9]+)\ pages,\ ([0-9]+)\ with ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] ||
        { echo "browser.sh: a page of the handout has no notes" >&2; exit 1; }
    ;;
*) usage ;;
esac
