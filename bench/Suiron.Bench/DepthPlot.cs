using Suiron.Benchmarking;

namespace Suiron.Bench;

/// <summary>
/// Tokens/s against the context already in the cache, both engines, one line per file, engine and test (pp, tg): how
/// the cost of a long context grows. Written as a PNG by <c>Suiron.Bench --depths … --plot FILE</c>.
/// </summary>
internal static class DepthPlot
{
    public static void Write(IReadOnlyList<ComparisonRow> rows, ComparisonSettings s, string path)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int color = 0;
        foreach (var group in rows.GroupBy(r => (r.File, r.Suiron.Test.Kind)))
        {
            var points = group.OrderBy(r => r.Suiron.Test.Depth).ToList();
            double[] depths = points.Select(r => (double)r.Suiron.Test.Depth).ToArray();
            string test = group.Key.Kind == BenchmarkKind.Prompt ? $"pp{s.PromptTokens}" : $"tg{s.GeneratedTokens}";
            var lineColor = palette.GetColor(color++);
            var suiron = plot.Add.Scatter(depths, points.Select(r => r.Suiron.Median).ToArray(), lineColor);
            suiron.LegendText = $"Suiron {group.Key.File} {test}";
            suiron.LineWidth = 2;
            var llama = plot.Add.Scatter(depths, points.Select(r => r.LlamaCpp.Median).ToArray(), lineColor);
            llama.LegendText = $"llama.cpp {group.Key.File} {test}";
            llama.LinePattern = ScottPlot.LinePattern.Dashed;
            llama.LineWidth = 2;
        }
        plot.Title($"Tokens/s against context depth ({s.Threads} threads, llama.cpp flash attention {s.FlashAttentionName})");
        plot.XLabel("tokens already in the cache (-d)");
        plot.YLabel("tokens/s (median)");
        plot.Axes.SetLimitsY(0, rows.Max(r => Math.Max(r.Suiron.Median, r.LlamaCpp.Median)) * 1.1);
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 1000, 600);
    }
}
