"""The outcome benchmark's plot, as hand-written SVG (no matplotlib on a fresh machine).

`plot(summary)` takes results.json's "summary" rows and draws, per layout, three panels: tasks done
twice, extra commits of a task (work done again) and edits lost against team size, one line per arm, with the spread over seeds as a bar.
"""

from html import escape

COLORS = {"pool": "#1f77b4", "none": "#d62728", "auto": "#2ca02c"}
LABELS = {"pool": "pool (blocks + automatic)", "none": "no coordination (/bin/true)", "auto": "pool, automatic entries only"}
METRICS = [("tasks_done_twice", "tasks done twice"), ("duplicate_commits", "extra commits of a task"),
           ("edits_lost", "edits lost")]
PW, PH, ML, MT, MB = 260, 180, 45, 40, 40


def plot(summary):
    layouts = sorted({r["layout"] for r in summary})
    arms = [a for a in COLORS if any(r["arm"] == a for r in summary)]
    width = ML + len(METRICS) * (PW + ML) + 20
    height = MT + len(layouts) * (PH + MT + MB) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{ML}" y="20" font-size="14">claude-pool outcome benchmark (scripted policy: '
           f'what the pool delivers, not how a model behaves)</text>']
    for li, layout in enumerate(layouts):
        rows = [r for r in summary if r["layout"] == layout]
        teams = sorted({r["team"] for r in rows})
        for mi, (key, label) in enumerate(METRICS):
            x0 = ML + mi * (PW + ML)
            y0 = MT + li * (PH + MT + MB) + 20
            vals = [r.get(key, {}).get("max", 0) for r in rows if isinstance(r.get(key), dict)]
            ymax = max([1] + vals)
            ymax = ymax + (4 - ymax % 4 if ymax % 4 else 0)

            def px(team, teams=teams, x0=x0):
                if len(teams) == 1:
                    return x0 + PW / 2
                return x0 + 20 + (PW - 40) * teams.index(team) / (len(teams) - 1)

            def py(v, y0=y0, ymax=ymax):
                return y0 + PH - PH * v / ymax

            out.append(f'<rect x="{x0}" y="{y0}" width="{PW}" height="{PH}" fill="none" stroke="#888"/>')
            out.append(f'<text x="{x0}" y="{y0 - 6}" font-size="12">{escape(label)}, {escape(layout)}</text>')
            for k in range(5):
                v = ymax * k / 4
                out.append(f'<line x1="{x0 - 4}" x2="{x0}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#888"/>')
                out.append(f'<text x="{x0 - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
            for t in teams:
                out.append(f'<text x="{px(t):.1f}" y="{y0 + PH + 14}" text-anchor="middle">{t}</text>')
            out.append(f'<text x="{x0 + PW / 2}" y="{y0 + PH + 28}" text-anchor="middle">sessions</text>')
            for ai, arm in enumerate(arms):
                pts = []
                for t in teams:
                    r = next((r for r in rows if r["arm"] == arm and r["team"] == t), None)
                    if r is None or not isinstance(r.get(key), dict):
                        continue
                    s = r[key]
                    x = px(t) + (ai - 1) * 4
                    pts.append((x, py(s["mean"])))
                    out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{py(s["min"]):.1f}" y2="{py(s["max"]):.1f}" '
                               f'stroke="{COLORS[arm]}" stroke-width="1"/>')
                if pts:
                    out.append('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
                        COLORS[arm], " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)))
                    for x, y in pts:
                        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COLORS[arm]}"/>')
    ly = height - 18
    for ai, arm in enumerate(arms):
        x = ML + ai * 230
        out.append(f'<line x1="{x}" x2="{x + 20}" y1="{ly}" y2="{ly}" stroke="{COLORS[arm]}" stroke-width="2"/>')
        out.append(f'<text x="{x + 25}" y="{ly + 4}">{escape(LABELS[arm])}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
