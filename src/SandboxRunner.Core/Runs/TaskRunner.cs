using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>What one task needs from its surroundings, resolved once per run.</summary>
public sealed record TaskContext(
    HostRepository Repository,
    RunStore Store,
    RunnerConfig Config,
    RunPlan Run,
    Environments.TaskImage Image,
    IReadOnlyDictionary<string, string> PassedEnvironment,
    Redactor Redactor,
    TimeProvider Clock,
    IProgress<TaskProgress>? Progress,
    IRunSite Site)
{
    /// <summary>Computed once per run, not per task container.</summary>
    public string Scope { get; } = Boxes.Labels.ScopeOf(Repository.CommonDir);

    public TaskLimits Limits { get; } = ResourceProfiles.LimitsFor(Run.ResourcePolicy, Config.TaskLimits);

    /// <summary>Set when the engine cannot see this machine's files: trees travel through the archive API (see <see cref="TreeCopy"/>).</summary>
    public TreeCopy? Copy { get; init; }

    /// <summary>The run's pack of base-commit objects: set whenever a task's tree travels (the copy transport, or an environment's task).</summary>
    internal TreeCopy? Pack { get; init; }

    /// <summary>The run's prepared environments; a task with one starts from its run image (see <see cref="Environments.ChangedTree"/>).</summary>
    public Environments.RunEnvironments? Environments { get; init; }

    /// <summary>The environment <paramref name="task"/> runs in, prepared; null for the plain Codex image.</summary>
    public Environments.PreparedEnvironment? EnvironmentOf(TaskPlan task) =>
        task.EnvironmentName is { } name && task.Environment is not null ? Environments?.Prepared.GetValueOrDefault(name) : null;

    public TaskPolicy PolicyFor(TaskPlan task) =>
        TaskPolicy.Of(task.AllowedPaths, task.AllowedCommands, Config, Run.AuditCommands, task.Timeout, task.Verification.Any);
}

/// <summary>
/// One task end to end: worktree → sandbox → Codex → harvest (tree to patch file and branch) → judge →
/// result → teardown. Data flows one way, and every task's work is on disk and on its branch before
/// anything judges it. The finally path removes the container and tree whatever happened.
/// </summary>
public sealed partial class TaskRunner(GitCli git, ILogger<TaskRunner> logger)
{
    private const long LastMessageMaxBytes = 256 * 1024;
    private static readonly TimeSpan SalvageBudget = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan WatchInterval = TimeSpan.FromSeconds(2);

    public async Task<TaskResult> RunAsync(TaskContext context, TaskPlan task, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var folder = TaskTreeLayout.TaskFolder(context.Repository, context.Run.RunId, task.TaskId, task.Attempt);
        ITaskBox? sandbox = null;
        TaskLogWriter? logs = null;
        Worktree? worktree = null;
        var copiedIn = false;
        var transcript = new CodexTranscript();
        var capture = new OutputCapture();
        var limits = context.Limits;
        var prepared = context.EnvironmentOf(task);
        var transport = Transports.TaskTransports.For(context, task);
        var owner = transport.BoxOwner;
        Task? checkout = null;

        // A checkout still being written is waited for before anything reads the tree or removes it; one that failed leaves
        // no tree to harvest (as when it failed before the box was made).
        async Task SettleCheckoutAsync(bool rethrow)
        {
            if (checkout is not { } pending)
            {
                return;
            }

            checkout = null;
            try
            {
                await pending;
            }
            catch (Exception) when (!rethrow)
            {
                worktree = null;
            }
            catch (Exception)
            {
                worktree = null;
                throw;
            }
        }

        // Harvest and persist on a budget of their own, from the copy-back on: a cancelled task's work is kept too.
        using var salvage = new CancellationTokenSource();
        Task<CopyBack>? bringingBack = null;
        Task<CopyBack> BringBackAsync()
        {
            salvage.CancelAfter(SalvageBudget + task.Timeout);

            // Only a tree that was copied in completely can be copied back (else the host's checkout stays).
            return !copiedIn || worktree is null || context.Run.SandboxMode == SandboxMode.ReadOnly ? Task.FromResult(CopyBack.Nothing)
                : transport.BringBackAsync(sandbox!, worktree, limits, folder, salvage.Token);
        }

        try
        {
            SandboxOutcome outcome;
            IReadOnlyList<string> refused = [];
            try
            {
                var hostOwner = transport.HostOwner;
                var phase = RunPhases.Start("task checkout", task.TaskId);
                if (transport.FillsFromObjects)
                {
                    // The box is filled from the object store while the host's checkout (which the harvest reads) is written.
                    worktree = Worktree.Prepare(git, context.Repository, folder, context.Run.BaseCommit);
                    checkout = transport.PrepareHostTreeAsync(worktree, hostOwner, cancellationToken);
                }
                else
                {
                    worktree = await Worktree.CreateAsync(git, context.Repository, folder, context.Run.BaseCommit, hostOwner, cancellationToken);
                }

                phase?.Dispose();
                phase = RunPhases.Start("task codex home and logs", task.TaskId);
                var home = await CodexHome.PrepareAsync(folder, task, context, hostOwner, cancellationToken);
                logs = context.Store.OpenLogs(context.Run.RunId, task.TaskId, context.Redactor, task.Attempt);
                phase?.Dispose();

                var containerStarted = context.Clock.GetUtcNow();
                phase = RunPhases.Start("task box create", task.TaskId);
                sandbox = await context.Site.CreateBoxAsync(TaskContainer.Spec(context, task, worktree, home, transport), cancellationToken);
                phase?.Dispose();
                phase = RunPhases.Start("task box fill", task.TaskId);
                copiedIn = await transport.FillAsync(sandbox, worktree, home, cancellationToken);
                await SettleCheckoutAsync(rethrow: true);
                phase?.Dispose();

                capture.StdoutLine += transcript.Accept;
                capture.StdoutLine += logs.Stdout;
                capture.StderrLine += logs.Stderr;
                transcript.CommandCompleted += command =>
                    Report(context, task, TaskPhase.Command, $"ran {Excerpt(context.Redactor.Redact(command.Cmd))} (exit {command.ExitCode?.ToString() ?? "none"})");

                // From here on the agent has run: a recovering server harvests this tree (before, there is nothing to keep).
                await File.WriteAllTextAsync(TaskTreeLayout.StartedMarker(folder), sandbox.Id, cancellationToken);
                var id = sandbox.Id[..Math.Min(12, sandbox.Id.Length)];
                phase = RunPhases.Start("task agent (box start to exit)", task.TaskId);
                outcome = await RunWatchedAsync(sandbox, task, capture, limits, transport.Watch(sandbox, worktree, home, limits),
                    () => Report(context, task, TaskPhase.Started, $"container {id} started"), cancellationToken);
                phase?.Dispose();
                capture.Complete();
                logs.Dispose();
                LogExited(task.TaskId, outcome.Exit.ExitCode, outcome.Exit.TimedOut, outcome.Cancelled);

                // The stopped box's tree comes back while its refusals and last message are read: each is an engine call of
                // its own, and an archive call costs tens of milliseconds (more through a swarm node's engine).
                bringingBack = BringBackAsync();

                using var readBudget = new CancellationTokenSource(SalvageBudget);
                using var reading = RunPhases.Start("task read refusals and last message", task.TaskId);
                refused = await context.Site.RefusedHostsAsync(sandbox, containerStarted, readBudget.Token);

                outcome = outcome with { LastMessage = await sandbox.ReadFileAsync(CodexCommandLine.LastMessageFile, LastMessageMaxBytes, readBudget.Token) };
                outcome = outcome with
                {
                    SecretInOutput = logs.EncodedSecret
                        ?? (outcome.LastMessage is { } message ? context.Redactor.FindEncodedSecret(Encoding.UTF8.GetString(message)) : null),
                };
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The runner failed around the task: what exists of its tree is still harvested and kept.
                LogTaskError(e, task.TaskId);
                outcome = new SandboxOutcome(new BoxExit(null, false, TimeSpan.Zero), Cancelled: false) { RunnerError = e.Message };
                await SettleCheckoutAsync(rethrow: false);
            }
            catch (OperationCanceledException)
            {
                outcome = new SandboxOutcome(new BoxExit(null, false, TimeSpan.Zero), Cancelled: true);
                await SettleCheckoutAsync(rethrow: false);
            }

            TaskFacts facts;
            var copied = CopyBack.Nothing;
            var harvesting = RunPhases.Start("task harvest", task.TaskId);
            try
            {
                copied = await (bringingBack ?? BringBackAsync());
                facts = worktree is null
                    ? new TaskFacts { TaskId = task.TaskId, End = outcome.End, RunnerError = outcome.RunnerError, Transcript = transcript }
                    : await new Harvester(context.Repository, context.Store, context.Clock).HarvestAsync(
                        // A copy-back that failed part-way is a runner error: judged as Exited, its problem was never shown.
                        new HarvestInput(context.Run.RunId, task.TaskId, worktree, limits, context.Redactor, copied.Problem is not null && outcome.End == TaskEnd.Exited ? TaskEnd.RunnerError : outcome.End, transcript)
                        {
                            Attempt = task.Attempt,
                            ExitCode = outcome.Exit.ExitCode,
                            LimitPassed = outcome.LimitPassed,
                            OversizedLines = capture.OversizedLines,
                            SecretInOutput = outcome.SecretInOutput,
                            CopyFindings = copied.Findings,
                            CopyOverLimit = copied.OverLimit,
                            RunnerError = outcome.RunnerError ?? copied.Problem,
                        },
                        salvage.Token);
            }
            catch (Exception e)
            {
                // A harvest past its budget (or failing outright) still ends in a judged result: what
                // was not read is a violation, and the sibling tasks are not disturbed.
                LogTaskError(e, task.TaskId);
                facts = new TaskFacts
                {
                    TaskId = task.TaskId,
                    End = outcome.End,
                    ExitCode = outcome.Exit.ExitCode,
                    Transcript = transcript,
                    HarvestProblems = [$"the harvest did not finish ({(e is OperationCanceledException ? $"over its {(SalvageBudget + task.Timeout).TotalSeconds:F0} s budget" : e.Message)}); the tree was not kept"],
                };
            }

            harvesting?.Dispose();
            var judging = RunPhases.Start("task judge and result", task.TaskId);
            if (task.Verification.Any)
            {
                // Verification runs in a fresh container, after the work is kept; the agent's goes first.
                if (sandbox is not null)
                {
                    await sandbox.DisposeAsync();
                }

                var (verification, cancelled) = await new TaskVerification(git, logger).VerifyAsync(
                    new VerifyInput(context, task, folder, facts, owner), (state, message) => Report(context, task, state, message), cancellationToken);
                facts = facts with { Verification = verification, VerificationCancelled = cancelled };
            }

            var judgement = Judge.Evaluate(facts, context.PolicyFor(task));
            var result = await TaskResults.BuildAsync(facts, judgement, context.Redactor, context.Store.PatchFile(context.Run.RunId, task.TaskId, task.Attempt), outcome.LastMessage, CancellationToken.None) with
            {
                ContainerId = sandbox?.Id,
                Node = sandbox?.Node,
                WorkspacePath = context.Store.TaskFolder(context.Run.RunId, task.TaskId, task.Attempt),
                Attempt = task.Attempt,
                Verification = facts.Verification ?? Verification.VerificationReport.NotConfigured,
                DurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                Logs = new TaskLogs(
                    TaskResults.Shown(context.Redactor, capture.Stdout), TaskResults.Shown(context.Redactor, capture.Stderr),
                    TaskResults.Shown(context.Redactor, capture.CombinedTail), capture.Truncated),
                Auth = context.Run.Credential.Wire,
                Environment = TaskResults.EnvironmentOf(task),
                Runtime = task.Runtime,
                Network = new NetworkReport(
                    ConfigLoader.NetworkPolicies.First(p => p.Value == context.Config.NetworkPolicy).Key,
                    context.Site.Egress?.Allowlist ?? [],
                    refused),
            };
            if (prepared?.Setup.TrackedChanges is { Count: > 0 } byTheSetup)
            {
                result = result with
                {
                    NotesForManager = $"{result.NotesForManager}\nThe environment's setup changed tracked files, which were not kept (tasks start from the base commit's version): {string.Join(", ", byTheSetup.Take(20))}".TrimStart('\n'),
                };
            }

            if (copied.Unharvested is { } left)
            {
                result = result with { NotesForManager = $"{result.NotesForManager}\n{context.Redactor.Redact(TerminalText.Neutralise(left.Note))}".TrimStart('\n') };
            }

            await context.Store.WriteResultAsync(context.Run.RunId, result, CancellationToken.None);
            judging?.Dispose();
            if (task.Attempt is null)
            {
                Report(context, task, TaskPhase.Finished, $"{result.Status.Wire()}: {result.FilesChanged.Count} file(s) changed{Verified(result)}", result);
            }
            else
            {
                // The task finishes when all its attempts have, with the best one's result (see Runner's attempts).
                Report(context, task, TaskPhase.AttemptFinished, $"{result.Status.Wire()}: {result.FilesChanged.Count} file(s) changed{Verified(result)}");
            }

            cancellationToken.ThrowIfCancellationRequested();
            return result;
        }
        finally
        {
            using var teardown = RunPhases.Start("task teardown (box, tree)", task.TaskId);
            await SettleCheckoutAsync(rethrow: false);
            logs?.Dispose();

            // The box goes before its tree: whatever reads a box as it is removed (the engine's own export, a test's
            // look at its mounts) finds the tree whole. Overlapping the two was tried (speed-start) and gained less
            // than this machine's noise, and a test reading the mounts at removal met a half-deleted tree.
            if (sandbox is not null)
            {
                await sandbox.DisposeAsync();
            }

            if (TreeDeletion.TryDelete(folder) is { } problem)
            {
                // Left for the next start's sweep; the task's results are already on disk.
                LogTreeLeft(task.TaskId, problem);
            }
        }
    }

    private static string Excerpt(string text) => TextCap.Cap(text, 200);

    private static string Verified(TaskResult result) =>
        result.Verification is { } v && v.Commands.Count > 0 ? $", verification {Verification.VerificationStatusNames.Wire(v.Status)}" : "";

    private static void Report(TaskContext context, TaskPlan task, TaskPhase phase, string message, TaskResult? result = null) =>
        context.Progress?.Report(new TaskProgress(task.TaskId, phase, TerminalText.Neutralise($"{task.DisplayName}: {message}")) { Result = result });

    [LoggerMessage(Level = LogLevel.Information, Message = "task {TaskId} exited with {ExitCode} (timed out: {TimedOut}, cancelled: {Cancelled})")]
    private partial void LogExited(string taskId, long? exitCode, bool timedOut, bool cancelled);

    [LoggerMessage(Level = LogLevel.Error, Message = "task {TaskId} failed in the runner")]
    private partial void LogTaskError(Exception exception, string taskId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "task {TaskId}: its tree could not be removed now ({Problem}); the next start removes it")]
    private partial void LogTreeLeft(string taskId, string problem);
}
