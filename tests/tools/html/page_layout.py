"""What a person sees of a report, measured in headless Chromium at 1280 px:
a script added to a copy of the page measures the laid-out boxes and writes
what is wrong into the DOM, which --dump-dom returns.

    layout_problems(chromium, html_path, work_dir) -> (problems, facts)
"""
import json
import os
import re
import subprocess

WIDTH = 1280

# Problems a reader would see: text cut by its box, a page wider than the
# window, plots much narrower than the text, chart text outside its chart,
# tiny or rotated text, labels over each other, two rows of a chart that
# read the same.
CHECK = r"""
<script>
(function () {
  const problems = [];
  const say = (what, el) => problems.push(what + ': "' + (el ? el.textContent.trim().slice(0, 70) : '') + '"');
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) problems.push('the page scrolls sideways: ' + doc.scrollWidth + ' px');
  for (const el of document.querySelectorAll('h1,h2,h3,p,figcaption,th,td,.legend span'))
    if (el.scrollWidth > el.clientWidth + 1) say('text cut by its box (' + el.scrollWidth + ' > ' + el.clientWidth + ' px)', el);
  const text = document.body.querySelector('h1').getBoundingClientRect();
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
                            Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  const figures = document.querySelectorAll('figure.chart');
  let labels = 0;
  for (const fig of figures) {
    const svg = fig.querySelector('svg');
    const caption = fig.querySelector('figcaption');
    if (!svg || !caption) { say('a chart without its plot or title', fig); continue; }
    const box = svg.getBoundingClientRect();
    if (box.width < 0.8 * text.width) say('a plot ' + Math.round(box.width) + ' px wide on ' + Math.round(text.width) + ' px of text', caption);
    if (box.right > doc.clientWidth) say('a plot past the window', caption);
    const texts = [...svg.querySelectorAll('text')].map(t => [t, t.getBoundingClientRect()]);
    for (const [t, b] of texts) {
      if (b.left < box.left - 0.5 || b.right > box.right + 0.5 || b.top < box.top - 0.5 || b.bottom > box.bottom + 0.5)
        say('chart text outside its chart', t);
      if (parseFloat(getComputedStyle(t).fontSize) < 10) say('chart text under 10 px', t);
      if (/rotate/.test(t.getAttribute('transform') || '')) say('rotated chart text', t);
    }
    for (let i = 0; i < texts.length; ++i)
      for (let j = i + 1; j < texts.length; ++j)
        if (overlap(texts[i][1], texts[j][1])) say('chart texts over each other ("' + texts[j][0].textContent.slice(0, 30) + '")', texts[i][0]);
    const names = [...svg.querySelectorAll('text.name')].map(t => [...t.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join(''));
    labels += names.length;
    if (new Set(names).size !== names.length) say('two rows of a chart read the same', caption);
  }
  const out = document.createElement('pre');
  out.id = 'layout-check';
  out.textContent = JSON.stringify({problems: problems, charts: figures.length, labels: labels});
  document.body.appendChild(out);
})();
</script>
"""


def chromium_cmd(chromium, work, *args):
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={os.path.join(work, 'chromium-profile')}", f"--window-size={WIDTH},2000", *args]


def layout_problems(chromium, html_path, work):
    page = open(html_path, encoding="utf-8").read()
    page = re.sub(r'<meta http-equiv="refresh"[^>]*>', "", page)  # the live page's reload
    checked = os.path.join(work, os.path.basename(html_path) + ".checked.html")
    with open(checked, "w", encoding="utf-8") as f:
        f.write(page.replace("</body>", CHECK + "</body>"))
    p = subprocess.run(chromium_cmd(chromium, work, "--dump-dom", "file://" + os.path.abspath(checked)),
                       capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="layout-check">(.*?)</pre>', p.stdout, re.S)
    if not m:
        return ["Chromium did not run the check: " + (p.stderr or p.stdout)[-500:]], {}
    result = json.loads(m.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&"))
    return result["problems"], result


def screenshot(chromium, html_path, png, work):
    """A full-width picture of the page, for a person to look at (kept beside the test's output)."""
    subprocess.run(chromium_cmd(chromium, work, f"--screenshot={png}", "file://" + os.path.abspath(html_path)),
                   capture_output=True, text=True, timeout=120)
    return os.path.exists(png) and os.path.getsize(png) > 10000
