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
public sealed record TaskProgress(string TaskId, string State, string Message)
{
    /// <summary>Set when <see cref="State"/> is <c>finished</c>.</summary>
    public TaskResult? Result { get; init; }
}

/// <summary>What one task needs from its surroundings, resolved once per run.</summary>
public sealed record TaskContext(
    HostRepository Repository,
    RunStore Store,
    RunnerConfig Config,
    RunPlan Run,
    string Image,
    IReadOnlyDictionary<string, string> PassedEnvironment,
    Redactor Redactor,
    TimeProvider Clock,
    IProgress<TaskProgress>? Progress,
    EgressGateway? Gateway = null);

/// <summary>
/// One task end to end: worktree → sandbox → Codex → policy → result on disk and on a branch → teardown.
/// Data flows one way. Everything the task produced is persisted before its container and tree are
/// removed, and the finally path removes them whatever happened, including cancellation.
/// </summary>
public sealed partial class TaskRunner(IContainerEngine engine, GitCli git, ILogger<TaskRunner> logger)
{
    private const int EvidenceChars = 4000;
    private const long LastMessageMaxBytes = 256 * 1024;
    private static readonly TimeSpan SalvageBudget = TimeSpan.FromSeconds(20);

    public async Task<TaskResult> RunAsync(TaskContext context, TaskPlan task, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var folder = ContainedPath.Combine(context.Repository.RunnerDir, "worktrees", context.Run.RunId, task.TaskId);
        Sandbox.Sandbox? sandbox = null;
        TaskLogWriter? logs = null;
        TaskNetwork? network = null;
        try
        {
            var owner = UnixOwner.ForSandbox();
            var worktree = await Worktree.CreateAsync(git, context.Repository, folder, context.Run.BaseCommit, owner, cancellationToken);
            var home = await PrepareCodexHomeAsync(folder, task, context, owner, cancellationToken);
            logs = context.Store.OpenLogs(context.Run.RunId, task.TaskId, context.Redactor);

            network = context.Gateway is { } gateway ? await gateway.CreateTaskNetworkAsync(task.TaskId, cancellationToken) : null;
            var containerStarted = context.Clock.GetUtcNow();
            sandbox = await Sandbox.Sandbox.CreateAsync(engine, BuildSpec(context, task, worktree, home, owner, network), cancellationToken);

            var capture = new OutputCapture();
            var transcript = new CodexTranscript();
            capture.StdoutLine += transcript.Accept;
            capture.StdoutLine += logs.Stdout;
            capture.StderrLine += logs.Stderr;
            transcript.CommandCompleted += command =>
                Report(context, task, "command", $"ran {context.Redactor.Redact(command.Cmd)} (exit {command.ExitCode?.ToString() ?? "none"})");

            var id = sandbox.ContainerId[..12];
            var outcome = await RunSandboxAsync(sandbox, task, capture, () => Report(context, task, "started", $"container {id} started"), cancellationToken);
            capture.Complete();
            logs.Dispose();
            LogExited(task.TaskId, outcome.Exit.ExitCode, outcome.Exit.TimedOut, outcome.Cancelled);

            // A cancelled task still has its work read and kept, on a budget of its own.
            using var salvage = outcome.Cancelled ? new CancellationTokenSource(SalvageBudget) : null;
            var token = salvage?.Token ?? cancellationToken;
            var refused = context.Gateway is { } g && network is not null ? await g.RefusedHostsAsync(network, containerStarted, token) : [];
            var result = await CompleteAsync(context, task, worktree, sandbox, outcome, transcript, capture, token) with
            {
                DurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                Network = new NetworkReport(
                    ConfigLoader.NetworkPolicies.First(p => p.Value == context.Config.NetworkPolicy).Key,
                    context.Gateway?.Allowlist ?? [],
                    refused),
            };
            await context.Store.WriteResultAsync(context.Run.RunId, result, ResultPatch(result), token);
            Report(context, task, "finished", $"{result.Status}: {result.FilesChanged.Count} file(s) changed", result);
            cancellationToken.ThrowIfCancellationRequested();
            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogTaskError(e, task.TaskId);
            var result = new TaskResult
            {
                TaskId = task.TaskId,
                Status = TaskStatus.Failed,
                ContainerId = sandbox?.ContainerId,
                WorkspacePath = context.Store.TaskFolder(context.Run.RunId, task.TaskId),
                DurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                Summary = "The runner could not complete this task.",
                NotesForManager = context.Redactor.Redact($"runner error: {e.Message}"),
            };
            await context.Store.WriteResultAsync(context.Run.RunId, result, [], CancellationToken.None);
            Report(context, task, "finished", $"failed: {result.NotesForManager}", result);
            return result;
        }
        finally
        {
            logs?.Dispose();
            if (sandbox is not null)
            {
                await sandbox.DisposeAsync();
            }

            if (network is not null)
            {
                await context.Gateway!.ReleaseTaskNetworkAsync(network, CancellationToken.None);
            }

            TreeDeletion.Delete(folder);
        }
    }

    private sealed record SandboxOutcome(SandboxExit Exit, bool Cancelled);

    private static async Task<SandboxOutcome> RunSandboxAsync(
        Sandbox.Sandbox sandbox, TaskPlan task, OutputCapture capture, Action onStarted, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            return new SandboxOutcome(await sandbox.RunAsync(task.Timeout, capture.Write, cancellationToken, onStarted), Cancelled: false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new SandboxOutcome(new SandboxExit(null, false, Stopwatch.GetElapsedTime(started)), Cancelled: true);
        }
    }

    /// <summary>Reads what the task left, judges it, keeps its tree on a branch and builds the (redacted) result.</summary>
    private async Task<TaskResult> CompleteAsync(
        TaskContext context, TaskPlan task, Worktree worktree, Sandbox.Sandbox sandbox, SandboxOutcome outcome,
        CodexTranscript transcript, OutputCapture capture, CancellationToken cancellationToken)
    {
        var lastMessage = await sandbox.ReadFileAsync(CodexCommandLine.LastMessageFile, LastMessageMaxBytes, cancellationToken);
        var changes = await worktree.CollectChangesAsync(cancellationToken);
        var patchText = Encoding.UTF8.GetString(changes.Patch);

        var violations = new List<Violation>();
        violations.AddRange(new PathPolicy(task.AllowedPaths).Check(worktree.WorkPath, changes.Files));
        violations.AddRange(worktree.ChangedGitSettings().Select(path =>
            Violation.ForPath(ViolationKind.GitDirectory, path, "git settings of the task's repository changed; they are never carried out of the sandbox")));
        violations.AddRange(changes.Entries.Where(e => e.IsGitlink).Select(e =>
            Violation.ForPath(ViolationKind.NestedRepository, e.Path, "is a nested git repository; its content cannot be part of the patch")));
        violations.AddRange(new CommandPolicy(task.AllowedCommands, context.Config.DeniedCommands).Check(transcript.Commands.Select(c => c.Cmd)));
        if (context.Redactor.FindKnownSecret(patchText) is { } secretName)
        {
            violations.Add(Violation.ForPath(ViolationKind.SecretInPatch, "(patch)", $"contains the value of {secretName}, which was passed into the container"));
        }

        var onBase = await worktree.CheckAppliesAsync(changes.Patch, context.Run.BaseCommit, cancellationToken);
        var head = await context.Repository.ResolveCommitAsync("HEAD", cancellationToken);
        var onHead = head is null || head == context.Run.BaseCommit ? onBase : await worktree.CheckAppliesAsync(changes.Patch, head, cancellationToken);

        var status = outcome.Cancelled ? TaskStatus.Cancelled
            : outcome.Exit.TimedOut ? TaskStatus.Timeout
            : outcome.Exit.ExitCode == 0 && transcript.TurnFailure is null && violations.Count == 0 ? TaskStatus.Success
            : TaskStatus.Failed;
        var summary = context.Redactor.Redact(
            lastMessage is { Length: > 0 } ? Encoding.UTF8.GetString(lastMessage).Trim()
            : transcript.LastAgentMessage ?? (status == TaskStatus.Success ? "Codex finished without a final message." : $"Task {status}."));

        string? branch = null;
        if (changes.Entries.Count > 0)
        {
            branch = ResultBranch.NameFor(context.Run.RunId, task.TaskId);
            var firstLine = summary.Split('\n', 2)[0];
            ResultBranch.Commit(
                context.Repository, worktree, changes, branch,
                $"{task.TaskId}: {(firstLine.Length > 200 ? firstLine[..200] : firstLine)}\n\nsandbox-runner run {context.Run.RunId}, task {task.TaskId}, status {status}.",
                context.Clock.GetUtcNow());
        }

        var notes = Notes(task, outcome, transcript, capture, changes, onBase, violations, branch);
        var exitCode = outcome.Exit.ExitCode is { } code ? (int)code : (int?)null;
        var r = context.Redactor;
        return new TaskResult
        {
            TaskId = task.TaskId,
            Status = status,
            ExitCode = exitCode,
            FilesChanged = changes.Files,
            Patch = patchText,
            PatchApplicable = onBase.Applies && violations.Count == 0,
            AppliesToHead = onHead.Applies && violations.Count == 0,
            ApplyCheckLog = r.Redact(head is null || head == context.Run.BaseCommit
                ? onBase.Log
                : $"base_ref {context.Run.BaseCommit[..12]}: {onBase.Log}\nHEAD {head[..12]}: {onHead.Log}"),
            CommandsRun = transcript.Commands.Select(c => c with { Cmd = r.Redact(c.Cmd) }).ToList(),
            Evidence = r.Redact(Evidence(transcript)),
            Logs = new TaskLogs(r.Redact(capture.Stdout), r.Redact(capture.Stderr), r.Redact(capture.CombinedTail), capture.Truncated),
            WorkspacePath = context.Store.TaskFolder(context.Run.RunId, task.TaskId),
            Summary = summary,
            NotesForManager = r.Redact(string.Join('\n', notes)),
            Usage = transcript.Usage,
            ContainerId = sandbox.ContainerId,
            Violations = violations,
            Branch = branch,
        };
    }

    /// <summary>The patch file on disk is the patch as produced, byte for byte (not the UTF-8 round trip of the result).</summary>
    private static byte[] ResultPatch(TaskResult result) => Encoding.UTF8.GetBytes(result.Patch);

    private static List<string> Notes(
        TaskPlan task, SandboxOutcome outcome, CodexTranscript transcript, OutputCapture capture, TreeChanges changes,
        ApplyCheck onBase, List<Violation> violations, string? branch)
    {
        var notes = new List<string>();
        notes.AddRange(violations.Select(v => v.ToString()));
        if (violations.Count > 0)
        {
            notes.Add("the patch is kept for inspection but marked not applicable because of the violations above");
        }

        if (outcome.Cancelled)
        {
            notes.Add("cancelled: the container was killed; changes made until then are in the patch");
        }

        if (outcome.Exit.TimedOut)
        {
            notes.Add($"timeout: killed at the {task.Timeout.TotalSeconds:F0} s deadline; changes made until then are in the patch");
        }

        if (transcript.TurnFailure is { } failure)
        {
            notes.Add($"turn failed: {failure}");
        }

        if (outcome.Exit.ExitCode is { } code and not 0)
        {
            notes.Add($"codex exited with code {code}");
        }

        notes.AddRange(transcript.Warnings.Distinct().Take(20).Select(w => $"codex warning: {w}"));
        if (transcript.EventCount == 0 && !outcome.Exit.TimedOut && !outcome.Cancelled)
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

        if (!onBase.Applies)
        {
            notes.Add("the patch does not apply to the base commit; see apply_check_log");
        }

        if (branch is not null)
        {
            notes.Add($"the task's tree is on branch {branch}");
        }

        return notes;
    }

    private static void Report(TaskContext context, TaskPlan task, string state, string message, TaskResult? result = null) =>
        context.Progress?.Report(new TaskProgress(task.TaskId, state, $"{task.TaskId}: {message}") { Result = result });

    /// <summary>
    /// The container's writable CODEX_HOME (also its HOME): the prompt, Codex rules forbidding the denied
    /// commands, and a git config that lets git work on a tree owned by another uid and commit with a
    /// placeholder identity.
    /// </summary>
    private static async Task<string> PrepareCodexHomeAsync(string folder, TaskPlan task, TaskContext context, UnixOwner owner, CancellationToken cancellationToken)
    {
        var config = context.Config;
        var home = Path.Combine(folder, "home");
        Directory.CreateDirectory(home);
        await File.WriteAllTextAsync(Path.Combine(home, Path.GetFileName(CodexCommandLine.PromptFile)), task.Prompt, cancellationToken);
        await File.WriteAllTextAsync(
            Path.Combine(home, ".gitconfig"),
            "[safe]\n\tdirectory = *\n[user]\n\tname = Codex (sandbox-runner)\n\temail = codex@sandbox-runner.invalid\n",
            cancellationToken);
        if (config.DeniedCommands.Count > 0)
        {
            Directory.CreateDirectory(Path.Combine(home, "rules"));
            await File.WriteAllTextAsync(Path.Combine(home, "rules", "sandbox-runner.rules"), CommandPolicy.ForbiddenRules(config.DeniedCommands), cancellationToken);
        }

        if (context.Run.OutputSchema is { } schema)
        {
            await File.WriteAllTextAsync(Path.Combine(home, Path.GetFileName(CodexCommandLine.OutputSchemaFile)), schema, cancellationToken);
        }

        await owner.TakeOwnershipAsync([home], cancellationToken);
        return home;
    }

    /// <summary>Codex reads the placeholder from this variable; the proxy replaces it with the real key.</summary>
    private const string ProxyTokenVariable = "SANDBOX_RUNNER_PROXY_TOKEN";

    internal static ContainerSpec BuildSpec(TaskContext context, TaskPlan task, Worktree worktree, string home, UnixOwner owner, TaskNetwork? network)
    {
        var config = context.Config;
        var environment = new Dictionary<string, string>(context.PassedEnvironment)
        {
            ["CODEX_HOME"] = CodexCommandLine.Home,
            ["HOME"] = CodexCommandLine.Home,
        };

        // Quiet defaults first, so the user's overrides can change them; the runner's provider settings
        // after the user's, so they win.
        var overrides = CodexCommandLine.QuietOverrides.Concat(config.CodexConfigOverrides).ToList();
        if (context.Gateway is { } gateway)
        {
            overrides.AddRange(CodexCommandLine.ProviderOverrides(gateway.ModelBaseUrl, ProxyTokenVariable));
            environment[ProxyTokenVariable] = "held-by-the-egress-proxy";
            foreach (var name in (string[])["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"])
            {
                environment[name] = gateway.ForwardProxyUrl;
            }

            environment["NO_PROXY"] = environment["no_proxy"] = $"localhost,127.0.0.1,{EgressGateway.ProxyAlias}";
        }
        else if (config.ModelBaseUrl != RunnerConfig.DefaultModelBaseUrl)
        {
            overrides.AddRange(CodexCommandLine.ProviderOverrides(config.ModelBaseUrl, config.ModelApiKeyEnv));
        }

        var command = new CodexCommandLine
        {
            Executable = config.CodexCommand,
            Model = config.CodexModel,
            Ephemeral = config.CodexEphemeral,
            ConfigOverrides = overrides,
            WithOutputSchema = context.Run.OutputSchema is not null,
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
                new BindMount(worktree.WorkPath, CodexCommandLine.Workspace, ReadOnly: context.Run.SandboxMode == SandboxMode.ReadOnly),
                new BindMount(context.Repository.ObjectsDir, context.Repository.ObjectsDir, ReadOnly: true),
                new BindMount(home, CodexCommandLine.Home, ReadOnly: false),
            ],
            Labels = Labels.For(context.Run.RunId, task.TaskId),
            Limits = ResourceProfiles.For(context.Run.ResourcePolicy),
            ReadOnlyRootFilesystem = context.Run.SandboxMode != SandboxMode.DangerFullAccess,

            NetworkMode = network?.NetworkMode ?? (config.NetworkPolicy == NetworkPolicy.Allow ? "bridge" : "none"),
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

    [LoggerMessage(Level = LogLevel.Information, Message = "task {TaskId} exited with {ExitCode} (timed out: {TimedOut}, cancelled: {Cancelled})")]
    private partial void LogExited(string taskId, long? exitCode, bool timedOut, bool cancelled);

    [LoggerMessage(Level = LogLevel.Error, Message = "task {TaskId} failed in the runner")]
    private partial void LogTaskError(Exception exception, string taskId);
}
