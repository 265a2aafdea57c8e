using System.Globalization;
using System.Text;
using SandboxRunner.Host.Reports;
using SandboxRunner.Runs;
using SandboxRunner.Verification;

namespace SandboxRunner.Host.Commands;

/// <summary>The plain-text end of a run on stdout: one line per task, then where everything is.</summary>
internal static class Summary
{
    public static string Of(RunResult run)
    {
        var text = new StringBuilder();
        var width = Math.Max(4, run.Results.Select(r => r.TaskId.Length).DefaultIfEmpty(4).Max());
        if (run.Results.Count > 0 && run.Results.All(r => r.Status == Runs.TaskStatus.Skipped))
        {
            // A dry run: checked, nothing ran, nothing was written, so there is no folder or branch to point at.
            text.Append(CultureInfo.InvariantCulture, $"run {run.RunId} on {Short(run.BaseCommit)}: dry run, {run.Results.Count} task(s) checked and would run; nothing ran and nothing was written\n");
            foreach (var r in run.Results)
            {
                text.Append("  ").Append(r.TaskId.PadRight(width)).Append("  would run").Append(r.Environment is { } environment ? $" in environment {environment}" : "").Append('\n');
            }

            return text.ToString();
        }

        text.Append(CultureInfo.InvariantCulture, $"run {run.RunId} on {Short(run.BaseCommit)}: {run.Results.Count(r => !JunitReport.Failed(r))}/{run.Results.Count} succeeded in {run.TotalDurationMs / 1000.0:0.0} s\n");
        foreach (var r in run.Results)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"  {r.TaskId.PadRight(width)}  {r.Status.Wire(),-9}  {r.FilesChanged.Count + r.FilesChangedOmitted,4} file(s)  {r.DurationMs / 1000.0,7:0.0} s  {r.Usage.InputTokens + r.Usage.OutputTokens,9:N0} tokens  {r.Violations.Count + r.ViolationsOmitted} violation(s)");
            var verification = r.Verification is { Commands.Count: > 0 } v ? v : null;
            if (verification is not null)
            {
                text.Append("  verification ").Append(verification.Status.Wire());
            }

            if (r.Attempts is { } attempts)
            {
                text.Append(CultureInfo.InvariantCulture, $"  attempt {r.BestAttempt} best of {attempts.Count}");
            }

            if (JunitReport.Failed(r))
            {
                // The runner's own finding, never the agent's word for it ("all tests pass") where there is one.
                var reason = r.Violations is [var broken, ..] ? $"{broken.Path ?? broken.Command}: {broken.Rule}"
                    : verification is { Status: not VerificationStatus.Passed } ? verification.Reason ?? r.Summary
                    : r.Summary;
                text.Append("  ").Append(ReportText.FirstLine(reason, 160));
            }

            text.Append('\n');
        }

        var perAttempt = run.Results.Any(r => r.Attempts is not null) ? $" (sandbox/{run.RunId}/<task>/<k> per attempt)" : "";
        text.Append(CultureInfo.InvariantCulture, $"results: .codex-runs/{run.RunId}/ · branches: sandbox/{run.RunId}/<task>{perAttempt} · `sandbox-runner show {run.RunId} TASK` for one task\n");
        return text.ToString();
    }

    private static string Short(string commit) => commit.Length >= 12 ? commit[..12] : commit;
}
