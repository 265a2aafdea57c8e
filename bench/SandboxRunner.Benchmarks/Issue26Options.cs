using System.Globalization;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// The options of the <c>issue26</c> command: how many repetitions, how large the copy-transport repository and the
/// sparse file are, which rows to measure, and which server build to start. The defaults measure the issue's table as
/// written; every option makes the run shorter.
/// </summary>
internal sealed record Issue26Options
{
    public static readonly string[] AllRows = ["server", "deny", "teardown", "parallel", "transport", "noop", "sparse"];

    public const string Usage =
        "issue26 [--reps N] [--files N] [--transport-reps N] [--sparse-gb N] [--only ROW,ROW] [--server DLL]\n"
        + "  --reps N            repetitions of the short rows (default 5; server start takes 3 x N)\n"
        + "  --files N           files in the copy-transport repository (default 50000)\n"
        + "  --transport-reps N  repetitions of the bind/copy pair (default 3)\n"
        + "  --sparse-gb N       apparent size of the sparse file (default 40; 0 skips the row)\n"
        + "  --only ROWS         some of: " + "server,deny,teardown,parallel,transport,noop,sparse\n"
        + "  --server DLL        the sandbox-runner.dll to start (default: published from this checkout as .ci/install does)";

    public int Reps { get; init; } = 5;

    public int Files { get; init; } = 50_000;

    public int TransportReps { get; init; } = 3;

    public int SparseGb { get; init; } = 40;

    public IReadOnlySet<string> Rows { get; init; } = AllRows.ToHashSet(StringComparer.Ordinal);

    public string? ServerDll { get; init; }

    public bool Measures(string row) => Rows.Contains(row);

    /// <summary>The options after the command's name; null (with the reason on stderr) when one is wrong.</summary>
    public static Issue26Options? Parse(IReadOnlyList<string> args)
    {
        var options = new Issue26Options();
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : null;
            if (value is null)
            {
                return Fail($"{args[i]} needs a value");
            }

            options = args[i] switch
            {
                "--reps" when Positive(value) is { } n => options with { Reps = n },
                "--files" when Positive(value) is { } n => options with { Files = n },
                "--transport-reps" when Positive(value) is { } n => options with { TransportReps = n },
                "--sparse-gb" when int.TryParse(value, CultureInfo.InvariantCulture, out var n) && n >= 0 => options with { SparseGb = n },
                "--only" when value.Split(',') is var rows && rows.All(AllRows.Contains) => options with { Rows = rows.ToHashSet(StringComparer.Ordinal) },
                "--server" when File.Exists(value) => options with { ServerDll = Path.GetFullPath(value) },
                _ => null,
            };
            if (options is null)
            {
                return Fail($"{args[i]} {value} is not understood");
            }

            i++;
        }

        return options;
    }

    private static int? Positive(string value) =>
        int.TryParse(value, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : null;

    private static Issue26Options? Fail(string why)
    {
        Console.Error.WriteLine($"issue26: {why}\nusage: {Usage}");
        return null;
    }
}
