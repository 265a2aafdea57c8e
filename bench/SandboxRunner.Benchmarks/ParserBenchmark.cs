using System.Diagnostics;
using SandboxRunner.Policy;

namespace SandboxRunner.Benchmarks;

/// <summary>
/// The readers of what the agent wrote (its command lines), at three sizes each: their time must grow
/// with the input, not its square. The unit tests hold what they read; this measures how long it takes, since a
/// wall-clock bound in a unit test fails on a busy machine rather than on slow code.
/// </summary>
internal static class ParserBenchmark
{
    private const int RunCount = 5;
    /// <summary>Up to the audit's own limit (longer lines are refused unread), and the lexer alone past it.</summary>
    private static readonly int[] AuditSizes = [ShellCommand.MaxLength / 4, ShellCommand.MaxLength / 2, ShellCommand.MaxLength];
    private static readonly int[] LexerSizes = [256 * 1024, 512 * 1024, 1024 * 1024];

    public static Task RunAsync(CancellationToken cancellationToken)
    {
        var table = new ResultTable("parsers: linear in what the agent wrote");
        var open = new CommandPolicy([], []);
        var patterns = new (string Name, string Pattern)[]
        {
            ("plain words and operators", "npm test && git status | tail -2; "),
            ("quotes and escapes", "echo 'a b' \"c $HOME\" $'\\x41' \\; "),
            ("substitutions nested 8 deep", string.Concat(Enumerable.Repeat("$(echo ", 8)) + "x" + new string(')', 8) + "; "),
            ("unclosed substitutions", "$("),
        };
        foreach (var (name, pattern) in patterns)
        {
            table.Section($"ShellCommand.Parse + CommandPolicy.Check: {name}");
            foreach (var size in AuditSizes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var command = Repeat(pattern, size);
                Measure(table.Row($"  {size / 1024} KiB"), () =>
                {
                    ShellCommand.Parse(command);
                    open.Check([command]);
                });
            }

            table.Section($"ShellCommand.Split (the lexer, no length limit of its own): {name}");
            foreach (var size in LexerSizes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var command = Repeat(pattern, size);
                Measure(table.Row($"  {size / 1024} KiB "), () => ShellCommand.Split(command));
            }
        }

        table.Note("Linear reading shows as about 2x per row down a section (each row doubles the input); 4x per row would be quadratic.\n");
        Console.WriteLine(table.Render());
        return Task.CompletedTask;
    }

    /// <summary>Runs <paramref name="read"/> once to warm up, then <see cref="RunCount"/> times measured.</summary>
    internal static void Measure(Samples samples, Action read)
    {
        read();
        for (var i = 0; i < RunCount; i++)
        {
            var clock = Stopwatch.StartNew();
            read();
            samples.Add(clock.Elapsed);
        }
    }

    private static string Repeat(string pattern, int length)
    {
        var text = new System.Text.StringBuilder(length + pattern.Length);
        while (text.Length < length)
        {
            text.Append(pattern);
        }

        return text.ToString(0, length);
    }
}
