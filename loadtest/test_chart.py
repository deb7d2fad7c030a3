"""Tests of loadtest/chart.py: `python3 -m unittest discover -s loadtest -p 'test_*.py'` (loadtest/check.sh runs it)."""
import unittest
import xml.etree.ElementTree as ET

import chart

SVG = "{http://www.w3.org/2000/svg}"


def figure(label, value, goal, better="higher", unit="%"):
    return {"label": label, "value": value, "goal": goal, "unit": unit, "better": better}


def bars(svg):
    root = ET.fromstring(svg)
    return [r for r in root.iter(f"{SVG}rect") if r.get("height") == "18"]


class ChartTest(unittest.TestCase):
    def test_met_depends_on_the_direction_of_the_goal(self):
        self.assertTrue(chart.met(figure("a", 0.6, 0.5)))
        self.assertFalse(chart.met(figure("a", 0.4, 0.5)))
        self.assertTrue(chart.met(figure("p99", 3, 10, "lower", "ms")))
        self.assertFalse(chart.met(figure("p99", 143, 100, "lower", "ms")))

    def test_each_figure_is_a_bar_coloured_by_its_verdict(self):
        svg = chart.render([figure("seat map", 0.67, 0.5), figure("on-sale p99", 143, 100, "lower", "ms")])
        colours = [b.get("fill") for b in bars(svg)]
        self.assertEqual(colours, ["#2e7d32", "#c62828"])

    def test_a_skipped_phase_is_left_out(self):
        svg = chart.render([figure("scaled", None, 0.9), figure("city", 1.18, 0.3)])
        self.assertEqual(len(bars(svg)), 1)
        self.assertNotIn("scaled", svg)

    def test_the_goal_line_lies_inside_the_bar_area_and_the_bar_is_proportional(self):
        svg = chart.render([figure("holds", 0.84, 0.85), figure("rss", 250, 100, "lower", "MB")])
        root = ET.fromstring(svg)
        lines = [float(line.get("x1")) for line in root.iter(f"{SVG}line")]
        for x in lines:
            self.assertGreater(x, chart.LABEL_W)
            self.assertLess(x, chart.LABEL_W + chart.BAR_W)
        widths = [float(b.get("width")) for b in bars(svg)]
        self.assertAlmostEqual(widths[0], chart.BAR_W * 0.84 / (0.85 * 1.25), places=0)
        self.assertAlmostEqual(widths[1], chart.BAR_W / 1.25, places=0)

    def test_labels_are_escaped(self):
        svg = chart.render([figure("a < b & c", 1, 1)])
        ET.fromstring(svg)  # well-formed
        self.assertIn("a &lt; b &amp; c", svg)


if __name__ == "__main__":
    unittest.main()
