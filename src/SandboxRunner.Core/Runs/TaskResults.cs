using System.Text;
using SandboxRunner.Codex;
using SandboxRunner.Policy;

namespace SandboxRunner.Runs;

/// <summary>
/// The result a caller reads, built from the facts and the judgement: redacted, and small whatever the
/// agent did. A patch past <see cref="InlinePatchBytes"/> is referenced (file and branch), not inlined;
/// commands, evidence and summary are capped.
/// </summary>
public static class TaskResults
{
    public const int InlinePatchBytes = 256 * 1024;
    public const int MaxCommandsShown = 200;
    public const int MaxFilesShown = 2000;
    public const int MaxViolationsShown = 200;
    private const int MaxCommandChars = 1000;

    /// <summary>Characters of one command's output tail in <c>commands_run</c>.</summary>
    public const int CommandTailChars = 2048;

    /// <summary>Characters of output tails in all of <c>commands_run</c>, the newest commands first, so the reply stays small.</summary>
    public const int CommandTailBudget = 64 * 1024;
    private const int MaxSummaryChars = 64 * 1024;
    private const int EvidenceChars = 4000;

    public const string DryRunSummary = "dry run: validated (config, ids, base_ref, policies, Docker, runtime, image), not executed";

    /// <summary>What a dry run returns for a task: validated, not run, and the environment it would run in.</summary>
    public static TaskResult Skipped(TaskPlan task) =>
        NeverRan(task, TaskStatus.Skipped, DryRunSummary, "dry run: validated, not executed") with { Environment = EnvironmentOf(task) };

    /// <summary>
    /// A task (or attempt) no agent ran for: cancelled or failed before its container started, or a dry run.
    /// Nothing changed, so nothing applies; its verify commands, if any, are reported not run because of <paramref name="why"/>.
    /// </summary>
    public static TaskResult NeverRan(TaskPlan task, TaskStatus status, string summary, string why) =>
        NeverRan(task.TaskId, task.Attempt, task.Verification, status, summary, why) with { Runtime = task.Runtime };

    /// <summary>As <see cref="NeverRan(TaskPlan, TaskStatus, string, string)"/>, for a task known only from a run's record (recovery).</summary>
    public static TaskResult NeverRan(string taskId, int? attempt, Verification.VerifyPlan verify, TaskStatus status, string summary, string why) => new()
    {
        TaskId = taskId,
        Attempt = attempt,
        Status = status,
        PatchApplicable = false,
        Summary = summary,
        Verification = verify.Any ? Verification.VerificationReport.NotRun(verify, why, []) : Verification.VerificationReport.NotConfigured,
    };

    /// <summary>The name a result reports for the task's environment; <c>none</c> for the plain Codex image.</summary>
    public static string EnvironmentOf(TaskPlan task) => task.EnvironmentName ?? Configuration.RunnerConfig.NoEnvironment;

    public static async Task<TaskResult> BuildAsync(
        TaskFacts facts, Judgement judgement, Redactor redactor, string patchFile, byte[]? lastMessage, CancellationToken cancellationToken)
    {
        var transcript = facts.Transcript;
        var patchBytes = facts.Changes.PatchFile is null ? 0 : facts.Changes.PatchBytes;
        var inline = patchBytes is > 0 and <= InlinePatchBytes
            ? Encoding.UTF8.GetString(await File.ReadAllBytesAsync(patchFile, cancellationToken))
            : "";
        var notes = judgement.Notes.ToList();
        if (patchBytes > InlinePatchBytes)
        {
            notes.Add($"the patch is {patchBytes} bytes, over the {InlinePatchBytes} shown inline: read it from patch_file or the task.patch resource{(facts.Branch is null ? "" : $", or diff branch {facts.Branch}")}");
        }

        var files = facts.Changes.Files;
        var shown = ShownFiles(files);
        if (shown.Count < files.Count)
        {
            var list = Path.Combine(Path.GetDirectoryName(patchFile)!, "files_changed.txt");
            await File.WriteAllLinesAsync(list, files, cancellationToken);
            notes.Add($"files_changed shows the first {shown.Count} of {files.Count} changed paths; all of them are in {list}");
        }

        if (judgement.Violations.Count > MaxViolationsShown)
        {
            notes.Add($"violations lists the first {MaxViolationsShown} of {judgement.Violations.Count}");
        }

        if (transcript.Commands.Count > MaxCommandsShown)
        {
            notes.Add($"commands_run shows the first {MaxCommandsShown} of {transcript.Commands.Count} commands (all were audited); events.jsonl has every event");
        }

        var summary = lastMessage is { Length: > 0 }
            ? Encoding.UTF8.GetString(lastMessage).Trim()
            : transcript.LastAgentMessage ?? (judgement.Status == TaskStatus.Success ? "Codex finished without a final message." : $"Task {judgement.Status.Wire()}.");
        return new TaskResult
        {
            TaskId = facts.TaskId,
            Status = judgement.Status,
            ExitCode = facts.ExitCode is { } code ? (int)code : null,
            FilesChanged = shown,
            FilesChangedOmitted = files.Count - shown.Count,
            ViolationsOmitted = Math.Max(0, judgement.Violations.Count - MaxViolationsShown),
            Patch = inline,
            PatchBytes = patchBytes,
            PatchFile = facts.Changes.PatchFile is null ? null : patchFile,
            PatchTruncated = patchBytes > InlinePatchBytes,
            PatchApplicable = judgement.PatchApplicable,
            AppliesToHead = judgement.AppliesToHead,
            ApplyCheckLog = Shown(redactor, facts.OnHead is { } head ? $"{facts.OnBase.Log}\n{head.Log}" : facts.OnBase.Log),
            CommandsRun = CommandsShown(transcript.Commands, redactor),
            Evidence = Shown(redactor, Evidence(transcript)),
            Summary = Shown(redactor, Cap(summary, MaxSummaryChars)),
            NotesForManager = Shown(redactor, string.Join('\n', notes)),
            Usage = transcript.Usage,
            Violations = judgement.Violations.Take(MaxViolationsShown).Select(v => v with
            {
                Command = v.Command is null ? null : Shown(redactor, Cap(v.Command, MaxCommandChars)),
                Path = v.Path is null ? null : TerminalText.Neutralise(Cap(v.Path, 500)),
                Rule = Shown(redactor, v.Rule),
            }).ToList(),
            Branch = facts.Branch,
        };
    }

    /// <summary>
    /// The first commands, each with the end of its output: redacted, terminal-safe, at most
    /// <see cref="CommandTailChars"/> each and <see cref="CommandTailBudget"/> in all, given to the newest
    /// commands first (the agent's last test run is what a reader looks for).
    /// </summary>
    private static List<CommandRun> CommandsShown(IReadOnlyList<CommandRun> commands, Redactor redactor)
    {
        var shown = commands.Take(MaxCommandsShown).ToList();
        var tails = new string[shown.Count];
        var left = CommandTailBudget;
        for (var i = shown.Count - 1; i >= 0; i--)
        {
            // Redacted before it is cut, so a secret the cut would split is still recognised whole.
            var tail = left <= 0 ? "" : Platform.TextCap.Tail(Shown(redactor, shown[i].OutputTail), Math.Min(CommandTailChars, left));
            left -= tail.Length;
            tails[i] = tail;
        }

        return shown.Select((c, i) => c with { Cmd = Shown(redactor, Cap(c.Cmd, MaxCommandChars)), OutputTail = tails[i] }).ToList();
    }

    /// <summary>The first changed paths, at most <see cref="MaxFilesShown"/> and 256 Ki characters in all (paths can be 3,000 characters each).</summary>
    private static List<string> ShownFiles(IReadOnlyList<string> files)
    {
        var shown = new List<string>();
        long chars = 0;
        foreach (var file in files)
        {
            // Counted as JSON writes them: a control character takes six.
            chars += file.Sum(c => c < 0x20 || c == '"' || c == '\\' || c > 0x7e ? 6 : 1);
            if (shown.Count >= MaxFilesShown || chars > 256 * 1024)
            {
                break;
            }

            shown.Add(file);
        }

        return shown;
    }

    /// <summary>What a person reads: redacted, and with terminal control sequences made visible.</summary>
    public static string Shown(Redactor redactor, string text) => TerminalText.Neutralise(redactor.Redact(text));

    /// <summary>Each command with its exit code and the end of its output: what a reviewer checks first.</summary>
    private static string Evidence(CodexTranscript transcript)
    {
        var text = new StringBuilder();
        foreach (var command in transcript.Commands.TakeLast(50))
        {
            text.Append("$ ").Append(Cap(command.Cmd, 500)).Append("  # exit ").Append(command.ExitCode?.ToString() ?? "none").Append('\n');
            if (command.OutputTail.Length > 0)
            {
                text.Append(command.OutputTail.TrimEnd()).Append('\n');
            }
        }

        return text.Length > EvidenceChars ? "…" + text.ToString(text.Length - EvidenceChars, EvidenceChars) : text.ToString();
    }

    private static string Cap(string text, int chars) => Platform.TextCap.Cap(text, chars);
}
