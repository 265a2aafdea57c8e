using System.Globalization;
using System.Text;
using SandboxRunner.Runs;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Host.Reports;

/// <summary>
/// A run as a Markdown summary (GitHub's job summary, a merge request note): a table of task, status, files
/// changed, duration, tokens and violations, then what went wrong with each task that did not succeed.
/// Agent text reads as written and renders as text only (<see cref="MarkdownText"/>): commands and paths in code
/// spans, prose escaped where Markdown would read it. Every part is bounded, so the whole stays under GitHub's
/// 1 MiB step-summary limit.
/// </summary>
internal static class MarkdownReport
{
    public const string StepSummaryVariable = "GITHUB_STEP_SUMMARY";
    public const int MaxChars = 512 * 1024;
    private const int ProblemChars = 500;
    private const int DetailedTasks = 50;

    public static async Task WriteAsync(RunResult run, string? path, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        var text = Render(run);
        if (path is not null)
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is not null)
            {
                Directory.CreateDirectory(folder);
            }

            await File.WriteAllTextAsync(path, text, new UTF8Encoding(false), cancellationToken);
        }

        if (environment(StepSummaryVariable) is { Length: > 0 } summary)
        {
            await File.AppendAllTextAsync(summary, text + "\n", new UTF8Encoding(false), cancellationToken);
        }
    }

    public static string Render(RunResult run)
    {
        var results = run.Results;
        var text = new StringBuilder();
        var failed = results.Count(JunitReport.Failed);
        text.Append("### sandbox-runner run `").Append(run.RunId).Append("`\n\n");
        text.Append(results.Count.ToString(CultureInfo.InvariantCulture)).Append(" task(s): ")
            .Append(string.Join(", ", results.GroupBy(r => r.Status).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key.Wire()}")))
            .Append(" · base `").Append(run.BaseCommit.Length >= 12 ? run.BaseCommit[..12] : run.BaseCommit).Append('`')
            .Append(" · ").Append(Duration(run.TotalDurationMs)).Append("\n\n");
        text.Append("| task | status | files changed | duration | tokens | violations | verification |\n");
        text.Append("|---|---|---:|---:|---:|---:|---|\n");
        foreach (var r in results)
        {
            text.Append("| ").Append(MarkdownText.Plain(r.TaskId, inTable: true))
                .Append(" | ").Append(Status(r))
                .Append(" | ").Append((r.FilesChanged.Count + r.FilesChangedOmitted).ToString("N0", CultureInfo.InvariantCulture))
                .Append(" | ").Append(Duration(r.DurationMs))
                .Append(" | ").Append((r.Usage.InputTokens + r.Usage.OutputTokens).ToString("N0", CultureInfo.InvariantCulture))
                .Append(" | ").Append((r.Violations.Count + r.ViolationsOmitted).ToString("N0", CultureInfo.InvariantCulture))
                .Append(" | ").Append(Verification(r))
                .Append(" |\n");
        }

        if (failed > 0)
        {
            text.Append("\n**Not succeeded**\n\n");
            foreach (var r in results.Where(JunitReport.Failed).Take(DetailedTasks))
            {
                text.Append("- **").Append(MarkdownText.Plain(r.TaskId)).Append("** (").Append(r.Status.Wire()).Append("): ")
                    .Append(MarkdownText.Plain(ReportText.FirstLine(r.Summary, ProblemChars)));
                if (r.Verification is { Commands.Count: > 0, Status: not VerificationStatus.Passed } v)
                {
                    text.Append("\n  - verification ").Append(v.Status.Wire()).Append(": ").Append(MarkdownText.Plain(ReportText.Cap(v.Reason ?? "", ProblemChars)));
                    if (v.FirstFailure is { OutputTail.Length: > 0 } first)
                    {
                        text.Append(" — last line: ").Append(MarkdownText.Code(ReportText.Cap(LastLine(first.OutputTail), ProblemChars)));
                    }
                }

                foreach (var violation in r.Violations.Take(3))
                {
                    text.Append("\n  - ").Append(Violation(violation));
                }

                text.Append('\n');
            }
        }

        var withInputs = results.Where(r => r.Verification is { ChangedInputs.Count: > 0 }).Take(DetailedTasks).ToList();
        if (withInputs.Count > 0)
        {
            text.Append("\n**Changed what the verify commands depend on**\n\n");
            foreach (var r in withInputs)
            {
                var v = r.Verification!;
                text.Append("- **").Append(MarkdownText.Plain(r.TaskId)).Append("**: ")
                    .Append(string.Join(", ", v.ChangedInputs.Take(10).Select(path => MarkdownText.Code(ReportText.Cap(path, ProblemChars)))))
                    .Append(v.ChangedInputs.Count > 10 || v.ChangedInputsOmitted > 0 ? " …" : "").Append('\n');
            }
        }

        var withAttempts = results.Where(r => r.Attempts is not null).Take(DetailedTasks).ToList();
        if (withAttempts.Count > 0)
        {
            text.Append("\n**Attempts** (best first)\n\n");
            foreach (var r in withAttempts)
            {
                text.Append("- **").Append(MarkdownText.Plain(r.TaskId)).Append("**: ")
                    .Append(string.Join(" · ", r.Attempts!.Select(a => string.Create(CultureInfo.InvariantCulture,
                        $"#{a.Attempt} {a.Status.Wire()}, verification {a.VerificationStatus.Wire().Replace("_", " ", StringComparison.Ordinal)}, {a.ViolationCount} violation(s), {a.PatchBytes:N0} B"))))
                    .Append('\n');
            }
        }

        var branches = results.Where(r => r.Branch is not null).Select(r => r.Branch!).ToList();
        if (branches.Count > 0)
        {
            text.Append("\nEach task's tree is on branch `sandbox/").Append(run.RunId).Append("/<task>`")
                .Append(withAttempts.Count > 0 ? $" (each attempt's on `sandbox/{run.RunId}/<task>/<k>`)" : "")
                .Append("; `sandbox-runner apply ").Append(run.RunId).Append(" <task>` brings one (a task's best attempt) into the working tree.\n");
        }

        return text.Length <= MaxChars ? text.ToString() : ReportText.Cap(text.ToString(), MaxChars) + "\n\n(summary cut at 512 KiB; the run folder has everything)\n";
    }

    /// <summary>A violation as the kind, the command or path in a code span, and the rule in words.</summary>
    private static string Violation(Policy.Violation violation) =>
        $"{MarkdownText.Code(violation.Kind)} {MarkdownText.Code(ReportText.Cap(violation.Path ?? violation.Command ?? "", ProblemChars))}: {MarkdownText.Plain(ReportText.Cap(violation.Rule, ProblemChars))}";

    private static string Verification(TaskResult r) => r.Verification is { Commands.Count: > 0 } v
        ? v.Status switch
        {
            VerificationStatus.Passed => "✅ passed",
            VerificationStatus.Failed => "❌ failed",
            VerificationStatus.TimedOut => "⏱️ timed out",
            _ => "➖ not run",
        }
        : "";

    private static string LastLine(string text)
    {
        var lines = text.TrimEnd().Split('\n');
        return lines.Length == 0 ? "" : lines[^1];
    }

    private static string Status(TaskResult r) => r.Status switch
    {
        TaskStatus.Success => "✅ success",
        TaskStatus.Skipped => "⏭️ skipped",
        TaskStatus.Timeout => "⏱️ timeout",
        TaskStatus.Cancelled => "🛑 cancelled",
        _ => "❌ " + r.Status.Wire(),
    };

    private static string Duration(long ms) => ms < 1000
        ? $"{ms.ToString(CultureInfo.InvariantCulture)} ms"
        : $"{(ms / 1000.0).ToString("0.0", CultureInfo.InvariantCulture)} s";
}
