using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Verification;
using TaskStatus = SandboxRunner.Runs.TaskStatus;

namespace SandboxRunner.Tests.Reports;

/// <summary>Run results in memory for the report tests: every report is a pure function of one.</summary>
public static class ReportRuns
{
    public const string Base = "0123456789abcdef0123456789abcdef01234567";

    public static TaskResult Succeeded(string id) => new()
    {
        TaskId = id, Status = TaskStatus.Success, ExitCode = 0, Summary = "Wrote it.", FilesChanged = ["src/a.txt"], DurationMs = 2500,
        Usage = new SandboxRunner.Codex.CodexUsage(100, 0, 0, 20, 0), Branch = $"sandbox/r1/{id}",
    };

    public static TaskResult Failed(string id, int violations = 0) => new()
    {
        TaskId = id, Status = TaskStatus.Failed, ExitCode = 1, Summary = "Gave up.\nsecond line", NotesForManager = "turn failed: the model gave up",
        Logs = new TaskLogs("", "", "words-before-the-end", false), DurationMs = 1200,
        Violations = [.. Enumerable.Range(0, violations).Select(i => Violation.ForPath("path", $"secrets/{i}.txt", "outside allowed_paths"))],
    };

    public static TaskResult Skipped(string id) => new() { TaskId = id, Status = TaskStatus.Skipped, Summary = "Dry run: would run." };

    public static TaskResult VerificationFailed(string id) => Succeeded(id) with
    {
        Status = TaskStatus.Failed,
        Verification = new VerificationReport
        {
            Status = VerificationStatus.Failed,
            Reason = "`npm test` exited 1",
            Commands = [new VerifyCommandReport("npm test", VerificationStatus.Failed, 1, 900, "ok 1\nnot ok 2 adds\n")],
            ChangedInputs = ["package.json"],
        },
    };

    public static RunResult Run(params TaskResult[] results) => new() { RunId = "r1", BaseCommit = Base, Results = results, TotalDurationMs = 4000 };
}
