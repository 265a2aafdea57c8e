using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace SandboxRunner.Benchmarks;

/// <summary>Durations of one measured step, in milliseconds, over the measured (not warm-up) runs.</summary>
internal sealed class Samples(string name)
{
    private readonly List<double> _ms = [];

    public string Name { get; } = name;

    public int Count => _ms.Count;

    public IReadOnlyList<double> Values => _ms;

    public void Add(double milliseconds) => _ms.Add(milliseconds);

    public void Add(TimeSpan elapsed) => _ms.Add(elapsed.TotalMilliseconds);

    public double Median
    {
        get
        {
            var sorted = Sorted();
            var mid = sorted.Length / 2;
            return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        }
    }

    /// <summary>Nearest-rank 90th percentile (with 5 runs this is the slowest run).</summary>
    public double P90
    {
        get
        {
            var sorted = Sorted();
            var rank = (int)Math.Ceiling(0.9 * sorted.Length);
            return sorted[Math.Max(rank, 1) - 1];
        }
    }

    public double Min => Sorted()[0];

    public double Max => Sorted()[^1];

    private double[] Sorted()
    {
        if (_ms.Count == 0)
        {
            throw new InvalidOperationException($"'{Name}' has no samples.");
        }

        var sorted = _ms.ToArray();
        Array.Sort(sorted);
        return sorted;
    }
}

/// <summary>A titled table of <see cref="Samples"/> rows (median, p90, min), with optional section lines and notes.</summary>
internal sealed class ResultTable(string title)
{
    private readonly List<object> _rows = [];
    private readonly Dictionary<string, Samples> _byKey = new(StringComparer.Ordinal);
    private readonly List<string> _notes = [];

    public Samples Row(string name)
    {
        var samples = new Samples(name);
        _rows.Add(samples);
        return samples;
    }

    /// <summary>The row for <paramref name="key"/>, added at the end (shown as <paramref name="name"/>) the first time it is asked for.</summary>
    public Samples Row(string key, string name)
    {
        if (!_byKey.TryGetValue(key, out var samples))
        {
            samples = Row(name);
            _byKey[key] = samples;
        }

        return samples;
    }

    /// <summary>Adds rows measured elsewhere (a baseline shared by several tables).</summary>
    public void Include(Samples samples) => _rows.Add(samples);

    public void Section(string text) => _rows.Add(text);

    public void Note(string text) => _notes.Add(text);

    public string Render()
    {
        var width = Math.Max(40, _rows.OfType<Samples>().Select(s => s.Name.Length).DefaultIfEmpty(0).Max());
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"## {title}\n\n");
        text.Append(CultureInfo.InvariantCulture, $"{Pad("step", width)} | {"median ms",10} | {"p90 ms",10} | {"min ms",10} | {"n",3}\n");
        text.Append(new string('-', width)).Append("-|-").Append(new string('-', 10)).Append("-|-").Append(new string('-', 10))
            .Append("-|-").Append(new string('-', 10)).Append("-|-").Append(new string('-', 3)).Append('\n');
        foreach (var row in _rows)
        {
            if (row is Samples s)
            {
                text.Append(CultureInfo.InvariantCulture, $"{Pad(s.Name, width)} | {s.Median,10:F1} | {s.P90,10:F1} | {s.Min,10:F1} | {s.Count,3}\n");
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"{Pad((string)row, width)} | {"",10} | {"",10} | {"",10} |\n");
            }
        }

        foreach (var note in _notes)
        {
            text.Append('\n').Append(note);
        }

        return text.Append('\n').ToString();
    }

    private static string Pad(string s, int width) => s.PadRight(width);
}

internal static class Timing
{
    public static async Task<TimeSpan> TimeAsync(Func<Task> action)
    {
        var started = Stopwatch.GetTimestamp();
        await action();
        return Stopwatch.GetElapsedTime(started);
    }

    public static TimeSpan Time(Action action)
    {
        var started = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(started);
    }

    public static double Ms(long fromTimestamp, long toTimestamp) =>
        (toTimestamp - fromTimestamp) * 1000.0 / Stopwatch.Frequency;

    /// <summary>Milliseconds of [from, to) during which none of <paramref name="calls"/> was in flight.</summary>
    public static double Outside(IEnumerable<CallEvent> calls, long from, long to)
    {
        var covered = 0L;
        var cursor = from;
        foreach (var call in calls.Where(c => c.End > from && c.Start < to).OrderBy(c => c.Start))
        {
            var s = Math.Max(call.Start, cursor);
            var e = Math.Min(call.End, to);
            if (e > s)
            {
                covered += e - s;
                cursor = e;
            }
        }

        return Ms(0, to - from - covered);
    }

    /// <summary>A git call as GitCli logs its arguments, shortened for a table: commit ids dropped, at most ~44 characters.</summary>
    public static string GitLabel(string args)
    {
        var label = "git";
        foreach (var token in args.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (token.Length == 40 && token.All(char.IsAsciiHexDigitLower))
            {
                continue;
            }

            if (label.Length + token.Length + 1 > 44)
            {
                return label + " ...";
            }

            label += " " + token;
        }

        return label;
    }
}
