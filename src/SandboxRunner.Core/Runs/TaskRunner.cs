using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Runs;

/// <summary>A task's state change, for callers that report progress.</summary>
public sealed record TaskProgress(string TaskId, string State, string Message);

/// <summary>What one task needs from its surroundings, resolved once per run.</summary>
public sealed record TaskContext(
    HostRepository Repository,
    RunnerConfig Config,
    RunPlan Run,
    string Image,
    IReadOnlyDictionary<string, string> PassedEnvironment,
    IProgress<TaskProgress>? Progress);

/// <summary>
/// One task end to end: worktree → sandbox → Codex → result → teardown. Data flows one way; the finally
/// path removes the container and the task's folder whatever happened, including cancellation.
/// </summary>
public sealed partial class TaskRunner(IContainerEngine engine, GitCli git, ILogger<TaskRunner> logger)
{
    private const int EvidenceChars = 4000;
    private const long LastMessageMaxBytes = 256 * 1024;

    public async Task<TaskResult> RunAsync(TaskContext context, TaskPlan task, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var folder = ContainedPath.Combine(context.Repository.RunnerDir, "worktrees", context.Run.RunId, task.TaskId);
        Sandbox.Sandbox? sandbox = null;
        try
        {
            var owner = UnixOwner.ForSandbox();
            var worktree = await Worktree.CreateAsync(git, context.Repository, folder, context.Run.BaseCommit, owner, cancellationToken);
            var home = await PrepareCodexHomeAsync(folder, task, owner, cancellationToken);

            sandbox = await Sandbox.Sandbox.CreateAsync(engine, BuildSpec(context, task, worktree, home, owner), cancellationToken);
            Report(context, task, "started", $"container {sandbox.ContainerId[..12]} started");

            var capture = new OutputCapture();
            var transcript = new CodexTranscript();
            capture.StdoutLine += transcript.Accept;
            transcript.CommandCompleted += command => Report(context, task, "command", $"ran {command.Cmd} (exit {command.ExitCode?.ToString() ?? "none"})");

            var exit = await sandbox.RunAsync(task.Timeout, capture.Write, cancellationToken);
            capture.Complete();
            LogExited(task.TaskId, exit.ExitCode, exit.TimedOut, exit.Elapsed.TotalMilliseconds);

            var lastMessage = await sandbox.ReadFileAsync(CodexCommandLine.LastMessageFile, LastMessageMaxBytes, cancellationToken);
            var changes = await worktree.CollectChangesAsync(cancellationToken);
            var check = await worktree.CheckAppliesAsync(changes.Patch, context.Run.BaseCommit, cancellationToken);

            var result = BuildResult(task, worktree, sandbox.ContainerId, exit, transcript, capture, lastMessage, changes, check) with
            {
                DurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            };
            Report(context, task, "finished", $"{result.Status}: {result.FilesChanged.Count} file(s) changed");
            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogTaskError(e, task.TaskId);
            Report(context, task, "finished", $"failed: {e.Message}");
            return new TaskResult
            {
                TaskId = task.TaskId,
                Status = TaskStatus.Failed,
                ContainerId = sandbox?.ContainerId,
                WorkspacePath = Path.Combine(folder, "work"),
                DurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                Summary = "The runner could not complete this task.",
                NotesForManager = $"runner error: {e.Message}",
            };
        }
        finally
        {
            if (sandbox is not null)
            {
                await sandbox.DisposeAsync();
            }

            TreeDeletion.Delete(folder);
        }
    }

    private static void Report(TaskContext context, TaskPlan task, string state, string message) =>
        context.Progress?.Report(new TaskProgress(task.TaskId, state, $"{task.TaskId}: {message}"));

    /// <summary>
    /// The container's writable CODEX_HOME (also its HOME): the prompt, and a git config that lets git work on a
    /// tree owned by another uid and commit with a placeholder identity.
    /// </summary>
    private static async Task<string> PrepareCodexHomeAsync(string folder, TaskPlan task, UnixOwner owner, CancellationToken cancellationToken)
    {
        var home = Path.Combine(folder, "home");
        Directory.CreateDirectory(home);
        await File.WriteAllTextAsync(Path.Combine(home, Path.GetFileName(CodexCommandLine.PromptFile)), task.Prompt, cancellationToken);
        await File.WriteAllTextAsync(
            Path.Combine(home, ".gitconfig"),
            "[safe]\n\tdirectory = *\n[user]\n\tname = Codex (sandbox-runner)\n\temail = codex@sandbox-runner.invalid\n",
            cancellationToken);
        await owner.TakeOwnershipAsync([home], cancellationToken);
        return home;
    }

    internal static ContainerSpec BuildSpec(TaskContext context, TaskPlan task, Worktree worktree, string home, UnixOwner owner)
    {
        var config = context.Config;
        var command = new CodexCommandLine
        {
            Executable = config.CodexCommand,
            Model = config.CodexModel,
            Ephemeral = config.CodexEphemeral,
            ConfigOverrides = config.CodexConfigOverrides,
        };

        var environment = new Dictionary<string, string>(context.PassedEnvironment)
        {
            ["CODEX_HOME"] = CodexCommandLine.Home,
            ["HOME"] = CodexCommandLine.Home,
        };

        return new ContainerSpec
        {
            Image = context.Image,
            Command = command.ContainerCommand(),
            User = owner.ToString(),
            WorkingDirectory = CodexCommandLine.Workspace,
            Environment = environment,
            Mounts =
            [
                new BindMount(worktree.WorkPath, CodexCommandLine.Workspace, ReadOnly: config.SandboxMode == SandboxMode.ReadOnly),
                new BindMount(context.Repository.ObjectsDir, context.Repository.ObjectsDir, ReadOnly: true),
                new BindMount(home, CodexCommandLine.Home, ReadOnly: false),
            ],
            Labels = Labels.For(context.Run.RunId, task.TaskId),
            Limits = ResourceProfiles.For(context.Run.ResourcePolicy),
            ReadOnlyRootFilesystem = config.SandboxMode != SandboxMode.DangerFullAccess,

            // Until the egress proxy exists, "deny" is enforced the only safe way: no network at all.
            NetworkMode = config.NetworkPolicy == NetworkPolicy.Allow ? "bridge" : "none",
        };
    }

    private static TaskResult BuildResult(
        TaskPlan task,
        Worktree worktree,
        string containerId,
        SandboxExit exit,
        CodexTranscript transcript,
        OutputCapture capture,
        byte[]? lastMessage,
        TreeChanges changes,
        ApplyCheck check)
    {
        var exitCode = exit.ExitCode is { } code ? (int)code : (int?)null;
        var status = exit.TimedOut ? TaskStatus.Timeout
            : exitCode == 0 && transcript.TurnFailure is null ? TaskStatus.Success
            : TaskStatus.Failed;

        var notes = new List<string>();
        if (exit.TimedOut)
        {
            notes.Add($"timeout: killed at the {task.Timeout.TotalSeconds:F0} s deadline; changes made until then are in the patch");
        }

        if (transcript.TurnFailure is { } failure)
        {
            notes.Add($"turn failed: {failure}");
        }

        if (exitCode is not null and not 0)
        {
            notes.Add($"codex exited with code {exitCode}");
        }

        notes.AddRange(transcript.Warnings.Distinct().Take(20).Select(w => $"codex warning: {w}"));
        if (transcript.EventCount == 0 && !exit.TimedOut)
        {
            notes.Add("codex printed no JSONL events; see logs.stderr");
        }

        if (transcript.UnparsedLines > 0)
        {
            notes.Add($"{transcript.UnparsedLines} stdout line(s) were not JSONL events and were ignored");
        }

        if (capture.OversizedLines > 0)
        {
            notes.Add($"{capture.OversizedLines} output line(s) over 32 MiB were dropped");
        }

        if (changes.Warnings.Length > 0)
        {
            notes.Add($"some files could not be read for the patch: {changes.Warnings}");
        }

        if (!check.Applies)
        {
            notes.Add("the patch does not apply to the base commit; see apply_check_log");
        }

        var summary = lastMessage is { Length: > 0 } ? Encoding.UTF8.GetString(lastMessage).Trim()
            : transcript.LastAgentMessage
            ?? (status == TaskStatus.Success ? "Codex finished without a final message." : $"Task {status}.");

        return new TaskResult
        {
            TaskId = task.TaskId,
            Status = status,
            ExitCode = exitCode,
            FilesChanged = changes.Files,
            Patch = Encoding.UTF8.GetString(changes.Patch),
            PatchApplicable = check.Applies,
            ApplyCheckLog = check.Log,
            CommandsRun = transcript.Commands,
            Evidence = Evidence(transcript),
            Logs = new TaskLogs(capture.Stdout, capture.Stderr, capture.CombinedTail, capture.Truncated),
            WorkspacePath = worktree.WorkPath,
            Summary = summary,
            NotesForManager = string.Join('\n', notes),
            Usage = transcript.Usage,
            ContainerId = containerId,
        };
    }

    /// <summary>Each command with its exit code and the end of its output: what a reviewer checks first.</summary>
    private static string Evidence(CodexTranscript transcript)
    {
        var text = new StringBuilder();
        foreach (var command in transcript.Commands)
        {
            text.Append("$ ").Append(command.Cmd).Append("  # exit ").Append(command.ExitCode?.ToString() ?? "none").Append('\n');
            if (command.OutputTail.Length > 0)
            {
                text.Append(command.OutputTail.TrimEnd()).Append('\n');
            }
        }

        return text.Length > EvidenceChars ? "…" + text.ToString(text.Length - EvidenceChars, EvidenceChars) : text.ToString();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "task {TaskId} exited with {ExitCode} (timed out: {TimedOut}) after {Milliseconds:F0} ms")]
    private partial void LogExited(string taskId, long? exitCode, bool timedOut, double milliseconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "task {TaskId} failed in the runner")]
    private partial void LogTaskError(Exception exception, string taskId);
}
