using System.Globalization;
using SandboxRunner.Verification;

namespace SandboxRunner.Runs;

/// <summary>
/// Ranks the attempts of one task by facts, never by what an agent said: verification passed first, then
/// success, then no violations, then a change at all (an attempt that changed nothing did not do the task, and
/// would otherwise win every later rule), then no changes to the verify inputs, then the smaller patch, then the
/// lower attempt number. The task's result is its best attempt's, with every attempt listed, best first.
/// </summary>
public static class AttemptRanking
{
    /// <summary>The attempts' results, best first.</summary>
    public static IReadOnlyList<TaskResult> Rank(IEnumerable<TaskResult> attempts) =>
        attempts
            .OrderBy(r => r.Verification?.Status == VerificationStatus.Passed ? 0 : 1)
            .ThenBy(r => r.Status == TaskStatus.Success ? 0 : 1)
            .ThenBy(r => r.Violations.Count + r.ViolationsOmitted > 0 ? 1 : 0)
            .ThenBy(r => r.PatchBytes > 0 || r.FilesChanged.Count > 0 ? 0 : 1)
            .ThenBy(r => ChangedInputs(r) > 0 ? 1 : 0)
            .ThenBy(r => r.PatchBytes)
            .ThenBy(r => r.Attempt ?? 0)
            .ToList();

    /// <summary>
    /// The task's result: the best attempt's fields (its branch, patch, verdict and verification), tokens summed
    /// over every attempt, the longest attempt's duration, and <c>attempts</c> with each one's rank.
    /// </summary>
    public static TaskResult Combine(string taskId, string workspacePath, IReadOnlyList<TaskResult> attempts)
    {
        var ranked = Rank(attempts);
        var best = ranked[0];
        var summaries = ranked.Select((r, i) => new AttemptSummary(
            r.Attempt ?? 0,
            i + 1,
            r.Status,
            r.Branch,
            r.Verification?.Status ?? VerificationStatus.NotRun,
            r.Violations.Count + r.ViolationsOmitted,
            ChangedInputs(r),
            r.PatchBytes,
            FirstLine(r.Summary))).ToList();
        var chosen = $"attempt {best.Attempt} of {attempts.Count} is the best ({Why(best)}); every attempt is in attempts, best first";
        return best with
        {
            TaskId = taskId,
            Attempt = null,
            BestAttempt = best.Attempt,
            Attempts = summaries,
            WorkspacePath = workspacePath,
            DurationMs = attempts.Max(r => r.DurationMs),
            Usage = attempts.Select(r => r.Usage).Aggregate(Codex.CodexUsage.Zero, (sum, u) => sum.Add(u)),
            NotesForManager = best.NotesForManager.Length == 0 ? chosen : $"{chosen}\n{best.NotesForManager}",
        };
    }

    private static int ChangedInputs(TaskResult result) => (result.Verification?.ChangedInputs.Count ?? 0) + (result.Verification?.ChangedInputsOmitted ?? 0);

    private static string Why(TaskResult best)
    {
        var verification = best.Verification?.Status is { } v && best.Verification.Commands.Count > 0 ? $"verification {v.Wire()}" : "no verification";
        var violations = best.Violations.Count + best.ViolationsOmitted;
        return string.Create(CultureInfo.InvariantCulture,
            $"{verification}, {best.Status.Wire()}, {violations} violation(s), {ChangedInputs(best)} changed input(s), a {best.PatchBytes:N0}-byte patch");
    }

    private static string FirstLine(string text)
    {
        var line = text.AsSpan().Trim();
        var newline = line.IndexOfAny('\r', '\n');
        return Platform.TextCap.Cap((newline >= 0 ? line[..newline] : line).ToString(), 300);
    }
}
