using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Runs;

/// <summary>
/// Runs batches of Codex tasks against one repository: execution and its gates here; images, recovery
/// and queries in their own classes. Its config is fixed: a reloaded config gets a new Runner, and runs in
/// progress keep theirs. The task gate and the active runs are the process's (<see cref="ProcessRuns"/>):
/// the gate is the process-wide limit (<c>default_concurrency</c>) that every run shares, and a run's own
/// <c>concurrency</c> can only lower it for that run. (codex-mcp-runner limited per call, so two calls
/// could run twice the containers the machine was sized for.)
/// </summary>
public sealed partial class Runner : IDisposable
{
    private readonly IContainerEngine _engine;
    private readonly GitCli _git;
    private readonly TaskRunner _taskRunner;
    private readonly TimeProvider _clock;
    private readonly Func<string, string?> _hostEnvironment;
    private readonly ILogger<Runner> _logger;
    private readonly ConcurrencyGate _processGate;
    private readonly ConcurrentDictionary<string, ActiveRun> _activeRuns;
    private readonly RunQueries _queries;
    private readonly Auth.CredentialResolver _credentials;

    public Runner(
        HostRepository repository,
        RunnerConfig config,
        IContainerEngine engine,
        GitCli git,
        ILoggerFactory loggerFactory,
        TimeProvider? clock = null,
        Func<string, string?>? hostEnvironment = null,
        ProcessRuns? process = null)
    {
        Repository = repository;
        Config = config;
        Store = new RunStore(repository);
        Images = new ImageProvisioner(config, engine);
        Scope = Labels.ScopeOf(repository.CommonDir);
        _engine = engine;
        _git = git;
        _taskRunner = new TaskRunner(engine, git, loggerFactory.CreateLogger<TaskRunner>());
        _clock = clock ?? TimeProvider.System;
        _hostEnvironment = hostEnvironment ?? Environment.GetEnvironmentVariable;
        _logger = loggerFactory.CreateLogger<Runner>();
        // A Workspace passes the process's gate and runs to each Runner its config reloads create; alone, a Runner has its own.
        process ??= new ProcessRuns(config.DefaultConcurrency);
        _processGate = process.Gate;
        _activeRuns = process.Active;
        _credentials = new Auth.CredentialResolver(config, _hostEnvironment, _clock);
        _queries = new RunQueries(Store, id => _activeRuns.GetValueOrDefault(id), () => _activeRuns.Values.ToList(), RunningElsewhere);
        Recovery = new RunRecovery(repository, Store, config, git, _clock, IsActive, loggerFactory.CreateLogger<RunRecovery>());
    }

    public HostRepository Repository { get; }

    public RunnerConfig Config { get; }

    public RunStore Store { get; }

    public ImageProvisioner Images { get; }

    public RunRecovery Recovery { get; }

    /// <summary>The repository's label on everything this runner creates in the engine.</summary>
    public string Scope { get; }

    /// <summary>The task image: the configured one, or the one built from Dockerfile.codex for the Codex version.</summary>
    public string Image => Images.Image;

    /// <summary>The egress proxy image used in <c>network_policy: deny</c>.</summary>
    public string ProxyImage => Images.ProxyImage;

    public Task<IReadOnlyList<string>> EnsureImagesAsync(bool includeProxy, CancellationToken cancellationToken) =>
        Images.EnsureAsync(includeProxy, cancellationToken);

    public bool IsActive(string runId) => _activeRuns.ContainsKey(runId);

    /// <summary>
    /// What a server does when it starts on this repository: removes what its killed predecessors left in
    /// the engine (this repository's only) and recovers their task trees.
    /// </summary>
    public async Task<IReadOnlyList<string>> RecoverInterruptedAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _engine.Backend.RemoveOrphansAsync(new BoxScope(Scope), cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An engine that does not answer is reported by the call that needs it; trees are still recovered.
            LogOrphanRemovalFailed(e);
        }

        return await Recovery.RecoverAsync(cancellationToken);
    }

    /// <summary>Runs to the end and returns every result. Cancelling kills the containers; the tasks' work is kept on disk.</summary>
    public async Task<RunResult> RunAsync(RunRequest request, IProgress<TaskProgress>? progress, CancellationToken cancellationToken)
    {
        var plan = await PlanAsync(request, cancellationToken);
        if (plan.DryRun)
        {
            return Skipped(plan);
        }

        var run = Register(plan, progress);
        using var link = cancellationToken.Register(run.Cancel);
        return await run.Execution!;
    }

    /// <summary>Validates the run and starts it in the background; returns its id at once.</summary>
    public async Task<RunResult> StartAsync(RunRequest request, CancellationToken cancellationToken)
    {
        var plan = await PlanAsync(request, cancellationToken);
        if (plan.DryRun)
        {
            return Skipped(plan);
        }

        var run = Register(plan, null);
        _ = Task.Run(async () =>
        {
            try
            {
                await run.Execution!;
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception e)
            {
                LogBackgroundRunFailed(e, plan.RunId);
            }
        }, CancellationToken.None);
        return new RunResult { RunId = plan.RunId, BaseCommit = plan.BaseCommit, Results = [] };
    }

    /// <summary>Asks a run of this process to stop; false when no such run is active.</summary>
    public bool Cancel(string runId)
    {
        if (!_activeRuns.TryGetValue(runId, out var run))
        {
            return false;
        }

        run.Cancel();
        return true;
    }

    /// <summary>
    /// Cancels a run whichever process owns it (this one, another server or command line, or one that is
    /// gone), waiting up to <paramref name="wait"/> for a live owner to end it (see <see cref="RunCancellation"/>).
    /// </summary>
    public Task<CancelOutcome> CancelAnywhereAsync(string runId, TimeSpan wait, CancellationToken cancellationToken) =>
        RunCancellation.CancelAsync(this, _engine, runId, wait, cancellationToken);

    /// <summary>Waits until a run of this process has torn down; its outcome is on disk.</summary>
    internal async Task WaitForLocalRunAsync(string runId, CancellationToken cancellationToken)
    {
        if (_activeRuns.TryGetValue(runId, out var run) && run.Execution is { } execution)
        {
            try
            {
                await execution.WaitAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>Asks every active run to stop, without waiting.</summary>
    public void CancelAll()
    {
        foreach (var run in _activeRuns.Values)
        {
            run.Cancel();
        }
    }

    /// <summary>
    /// Cancels every active run and waits until each has torn down (containers, networks, task folders)
    /// and kept what its tasks produced: a server that stops leaves nothing running.
    /// </summary>
    public async Task ShutdownAsync(CancellationToken cancellationToken)
    {
        var runs = _activeRuns.Values.ToList();
        foreach (var run in runs)
        {
            run.Cancel();
        }

        foreach (var execution in runs.Select(r => r.Execution).OfType<Task<RunResult>>())
        {
            try
            {
                await execution.WaitAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // The run's own outcome (cancelled, failed) is on disk; shutting down only needs it over.
            }
        }
    }

    /// <summary>The status of a run, active or stored; null when there is no such run.</summary>
    public Task<RunStatusView?> GetRunAsync(string runId, CancellationToken cancellationToken) => _queries.GetRunAsync(runId, cancellationToken);

    /// <summary>Every run this repository has on disk, newest first, with the active ones' live state.</summary>
    public Task<IReadOnlyList<RunStatusView>> ListRunsAsync(CancellationToken cancellationToken) => _queries.ListRunsAsync(cancellationToken);

    /// <summary>
    /// Brings a finished task's branch into the working tree and index (see <see cref="ResultApplier"/>),
    /// after judging the branch's content again against the task's recorded paths and the current
    /// config's: a stored verdict is never trusted alone.
    /// </summary>
    public Task<ApplyOutcome> ApplyAsync(string runId, string taskId, CancellationToken cancellationToken) =>
        ApplyAsync(runId, taskId, null, cancellationToken);

    /// <summary>
    /// As <see cref="ApplyAsync(string, string, CancellationToken)"/>; for a task run with attempts, the best attempt's
    /// branch, or <paramref name="attempt"/>'s when one is named.
    /// </summary>
    public async Task<ApplyOutcome> ApplyAsync(string runId, string taskId, int? attempt, CancellationToken cancellationToken)
    {
        const string source = "apply_codex_result arguments";
        var problems = new List<Problem>();
        if (attempt is { } a && (a < 1 || a > RunPlanner.MaxAttempts))
        {
            problems.Add(new Problem("attempt", $"must be from 1 to {RunPlanner.MaxAttempts} (got {a})"));
        }

        if (!Ids.IsValid(runId))
        {
            problems.Add(new Problem("run_id", Ids.Rule));
        }

        if (!Ids.IsValid(taskId))
        {
            problems.Add(new Problem("task_id", Ids.Rule));
        }

        if (problems.Count > 0)
        {
            throw new InvalidInputException(source, problems);
        }

        var result = await Store.ReadResultAsync(runId, taskId, cancellationToken)
            ?? throw new InvalidInputException(source, "task_id", $"run '{runId}' has no finished task '{taskId}'");
        if (attempt is { } k)
        {
            if (result.Attempts is not { } attempts)
            {
                throw new InvalidInputException(source, "attempt", $"task '{taskId}' ran once; leave attempt out");
            }

            result = attempts.Any(s => s.Attempt == k) ? await Store.ReadResultAsync(runId, taskId, k, cancellationToken) : null;
            if (result is null)
            {
                throw new InvalidInputException(source, "attempt", $"task '{taskId}' has no finished attempt {k} (its attempts: {string.Join(", ", attempts.Select(s => s.Attempt).Order())})");
            }
        }

        if (result.Branch is null)
        {
            return new ApplyOutcome(true, "", [], [], "the task changed nothing; there is nothing to apply");
        }

        // A task that succeeded with violations ran under command_policy: audit, where they are only reported.
        if (result.Violations.Count > 0 && result.Status != TaskStatus.Success)
        {
            throw new InvalidInputException(source, "task_id",
                $"'{taskId}' broke the run's policies ({result.Violations.Count} violation(s), see its result); inspect branch {result.Branch} and merge it by hand if you accept it");
        }

        RunTaskRecord? recorded = null;
        try
        {
            recorded = (await Store.ReadRunAsync(runId, cancellationToken))?.Tasks.FirstOrDefault(t => t.TaskId == taskId);
        }
        catch (DamagedRunException)
        {
            // Judged against the current config alone.
        }

        List<IReadOnlyList<string>> pathSets = [Config.DefaultAllowedPaths];
        if (recorded?.AllowedPaths is { } taskPaths)
        {
            pathSets = Config.AllowTaskPolicyWidening ? [taskPaths] : [taskPaths, Config.DefaultAllowedPaths];
        }

        var violations = BranchReview.Check(Repository, result.Branch, pathSets);
        if (violations.Count > 0)
        {
            throw new InvalidInputException(source, "task_id",
                $"branch {result.Branch} breaks the current policy, so nothing was applied: {string.Join("; ", violations.Take(10).Select(v => v.ToString()))}");
        }

        return await new ResultApplier(_git).ApplyAsync(Repository, result.Branch, cancellationToken);
    }

    private async Task<RunPlan> PlanAsync(RunRequest request, CancellationToken cancellationToken)
    {
        ConfigChecks.ThrowIfBroken(Config);
        var plan = await RunPlanner.PlanAsync(request, Config, Repository, RunIdInUse, _clock, cancellationToken);

        // First, before an image or a container is made: a runtime the engine lacks would fail every container at its start.
        plan = await RuntimeCheck.ResolveAsync(plan, Config, _engine, cancellationToken);
        await EngineApiGuard.CheckAsync(plan, Config, _engine.Backend, cancellationToken);
        await CacheKeyCheck.CheckAsync(plan, _git, Repository, cancellationToken);
        plan = plan with
        {
            Credential = await _credentials.ResolveAsync(plan.LongestDuration, cancellationToken),
            Trust = TrustedAuthorities.Load(Config, Repository.Root),
        };
        await Images.CheckAsync(plan.DryRun, cancellationToken);
        if (plan.DryRun)
        {
            await CheckEnvironmentsAsync(plan, cancellationToken);
        }

        return plan;
    }

    private ActiveRun Register(RunPlan plan, IProgress<TaskProgress>? progress)
    {
        var run = new ActiveRun(plan, _clock.GetUtcNow(), progress);
        if (!_activeRuns.TryAdd(plan.RunId, run))
        {
            run.Dispose();
            throw new InvalidInputException(RunPlanner.Source, "run_id", $"'{plan.RunId}' is already running");
        }

        run.Execution = ExecuteAsync(run);
        return run;
    }

    private async Task<RunResult> ExecuteAsync(ActiveRun run)
    {
        // Runs on the caller's thread up to its first wait; yield so Register can return the run first.
        await Task.Yield();
        var plan = run.Plan;
        var cancellationToken = run.Cancellation.Token;
        var started = Stopwatch.GetTimestamp();
        var startedAt = _clock.GetUtcNow();
        var trees = TaskTreeLayout.RunFolder(Repository, plan.RunId);
        EgressGateway? gateway = null;
        RunEnvironments? environments = null;
        List<Task<TaskResult>> running = [];
        try
        {
            LogRunStarted(plan.RunId, plan.Tasks.Count, plan.BaseCommit[..12]);
            await Store.EnsureExcludedAsync(cancellationToken);
            await Store.WriteRunAsync(Record(plan, startedAt, RunState.Running, null, []), cancellationToken);

            // Who owns the run's task trees: a server that finds them after this process is gone recovers them.
            Directory.CreateDirectory(trees);
            await File.WriteAllTextAsync(TaskTreeLayout.OwnerFile(Repository, plan.RunId), Labels.CurrentOwner, cancellationToken);

            // Another process (`sandbox-runner cancel`) asks this one to stop the run through the run folder.
            await using var cancelWatch = CancelRequestWatch.Start(Store.CancelRequestFile(plan.RunId), run.Cancel, _clock);

            // In deny the model credential goes to the egress proxy, never into a task container; it is still redacted everywhere.
            var key = _hostEnvironment(Config.ModelApiKeyEnv);
            var passed = PassedEnvironment();
            var secrets = new Dictionary<string, string>(passed);
            if (!string.IsNullOrEmpty(key))
            {
                secrets[Config.ModelApiKeyEnv] = key;
            }

            var chatGpt = plan.Credential.ChatGpt;
            foreach (var (name, value) in chatGpt?.Secrets ?? new Dictionary<string, string>())
            {
                secrets[name] = value;
            }

            if (Config.NetworkPolicy == NetworkPolicy.Deny)
            {
                gateway = await EgressGateway.StartAsync(_engine, Scope, plan.RunId, GatewayOptions(plan.Credential, key), cancellationToken);

                // The credential stays with the proxy under whatever name it also sits in the host's environment.
                passed.Remove(Config.ModelApiKeyEnv);
                if (chatGpt is not null)
                {
                    foreach (var name in Auth.PlaceholderSignIn.OutrankingVariables)
                    {
                        passed.Remove(name);
                    }
                }

                var held = new[] { key }.Concat(chatGpt?.Secrets.Values ?? []).Where(v => !string.IsNullOrEmpty(v)).ToHashSet(StringComparer.Ordinal);
                foreach (var name in passed.Where(kv => held.Contains(kv.Value)).Select(kv => kv.Key).ToList())
                {
                    passed.Remove(name);
                }
            }

            var usesCopy = await UsesCopyAsync(cancellationToken);
            // Environment tasks travel through the archive API on any engine (see ChangedTree), so they share the run's pack.
            var copy = usesCopy || plan.Tasks.Any(t => t.Environment is not null) ? new TreeCopy(_git, Repository, trees, plan.BaseCommit) : null;
            environments = new RunEnvironments(
                new EnvironmentServices(_engine, _git, Repository, Store, copy!, Images.TaskImage, gateway, ct => StartSetupGatewayAsync(plan, ct)),
                Config, plan, Scope, trees);
            var context = new TaskContext(Repository, Store, Config, plan, Images.TaskImage, passed, new Redactor(secrets), _clock, run, gateway)
            {
                Copy = usesCopy ? copy : null,
                Environments = environments,
            };
            foreach (var task in plan.Tasks)
            {
                run.Report(new TaskProgress(task.TaskId, "queued", $"{task.TaskId}: queued"));
            }

            if (await PrepareEnvironmentsAsync(environments, plan, run, cancellationToken) is { } setupFailure)
            {
                // No task container is created: every task ends failed with the reason, and the run says so.
                running = plan.Tasks.Select(task => FailBeforeStartAsync(plan, run, task, setupFailure)).ToList();
                return await FinishedAsync(plan, running, started) with { NotStarted = setupFailure };
            }

            using var runGate = new SemaphoreSlim(plan.Concurrency, plan.Concurrency);
            running = plan.Tasks.Select(task => RunTaskAsync(context, task, runGate, cancellationToken)).ToList();
            return await FinishedAsync(plan, running, started);
        }
        finally
        {
            // Whatever happened above (a gateway that would not start, a cancelled run), every task ends
            // with a result on disk, the record says so, and the run's resources go; a failing teardown
            // step is logged, never allowed to replace the run's outcome or leave the run active.
            try
            {
                await Settle(() => Task.WhenAll(running));
                var results = await FinishTasksAsync(plan, run);
                await Settle(() => Store.WriteRunAsync(
                    Record(plan, startedAt, cancellationToken.IsCancellationRequested ? RunState.Cancelled : RunState.Finished, _clock.GetUtcNow(), results),
                    CancellationToken.None));
                if (environments is not null)
                {
                    await environments.DisposeAsync();
                }

                if (gateway is not null)
                {
                    await gateway.DisposeAsync();
                    if (gateway.TeardownError is { } error)
                    {
                        LogTeardownFailed(plan.RunId, error);
                    }
                }

                // Labels are the cleanup mechanism: whatever of this run is still in the engine goes.
                await Settle(() => RemoveLeftoversAsync(plan.RunId));
                await Settle(() => Store.PruneAsync(Config.MaxRunsRetained, IsActive, CancellationToken.None));
                await Settle(() =>
                {
                    File.Delete(TaskTreeLayout.OwnerFile(Repository, plan.RunId));
                    File.Delete(Store.CancelRequestFile(plan.RunId));
                    return Task.CompletedTask;
                });
                if (TreeDeletion.TryDelete(trees) is { } problem)
                {
                    LogTeardownFailed(plan.RunId, problem);
                }
            }
            finally
            {
                _activeRuns.TryRemove(plan.RunId, out _);
                run.Dispose();
            }
        }
    }

    /// <summary>
    /// The <c>transport</c> field, or for <c>auto</c> the engine's answer to whether it sees this machine's
    /// files (probed once per engine with the task image: see <see cref="ITaskBackend.SharesHostFilesAsync"/>).
    /// </summary>
    private async Task<bool> UsesCopyAsync(CancellationToken cancellationToken) => Config.Transport switch
    {
        TransportPolicy.Copy => true,
        TransportPolicy.Bind => false,
        _ => !await _engine.Backend.SharesHostFilesAsync(Image, cancellationToken),
    };

    private static async Task<RunResult> FinishedAsync(RunPlan plan, List<Task<TaskResult>> running, long started)
    {
        await Task.WhenAll(running);
        return new RunResult
        {
            RunId = plan.RunId,
            BaseCommit = plan.BaseCommit,
            Results = running.Select(t => t.Result).ToList(),
            TotalDurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        };
    }

    /// <summary>Each task's stored result; a task that never got one (cancelled before it started) gets one now.</summary>
    private async Task<List<TaskResult>> FinishTasksAsync(RunPlan plan, ActiveRun run)
    {
        var results = new List<TaskResult>();
        foreach (var task in plan.Tasks)
        {
            if (await Store.ReadResultAsync(plan.RunId, task.TaskId, CancellationToken.None) is { } stored)
            {
                results.Add(stored);
                continue;
            }

            var result = task.Attempts > 1 ? await CombineAttemptsAsync(plan, task) : CancelledBeforeStart(plan, task);
            await Settle(() => Store.WriteResultAsync(plan.RunId, result, CancellationToken.None));
            run.Report(new TaskProgress(task.TaskId, "finished", $"{task.TaskId}: {result.Status.Wire()}") { Result = result });
            results.Add(result);
        }

        return results;
    }

    private async Task RemoveLeftoversAsync(string runId)
    {
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var id in await _engine.ListContainersAsync(Labels.OfRun(Scope, runId), budget.Token))
        {
            await _engine.RemoveAsync(id, budget.Token);
        }
    }

    /// <summary>Runs a step of teardown; its failure is logged, not thrown.</summary>
    private async Task Settle(Func<Task> step)
    {
        try
        {
            await step();
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or UnauthorizedAccessException or InvalidOperationException
                                   or LibGit2Sharp.LibGit2SharpException or GitException)
        {
            if (e is not OperationCanceledException)
            {
                LogTeardownFailed("(run)", e.Message);
            }
        }
    }

    private async Task<TaskResult> RunGatedAsync(TaskContext context, TaskPlan task, SemaphoreSlim runGate, CancellationToken cancellationToken)
    {
        await runGate.WaitAsync(cancellationToken);
        try
        {
            await _processGate.WaitAsync(cancellationToken);
            try
            {
                return await _taskRunner.RunAsync(context, task, cancellationToken);
            }
            finally
            {
                _processGate.Release();
            }
        }
        finally
        {
            runGate.Release();
        }
    }

    /// <summary>A run id is reused only when nothing of an earlier run with that id is left: folder, trees or unmerged branches.</summary>
    private bool RunIdInUse(string runId) =>
        _activeRuns.ContainsKey(runId) || Store.Exists(runId) || Directory.Exists(TaskTreeLayout.RunFolder(Repository, runId))
        || ResultBranch.AnyFor(Repository, runId);

    /// <summary>
    /// The proxy's model route: the API key route to <c>model_base_url</c>, or for a ChatGPT sign-in the ChatGPT
    /// backend with its access token and account id. The ChatGPT route needs no host in the forward proxy's
    /// allowlist by default: Codex's model traffic goes through the reverse proxy.
    /// </summary>
    private EgressOptions GatewayOptions(Auth.RunCredential credential, string? key) =>
        credential.ChatGpt is { } tokens
            ? new EgressOptions(ProxyImage, Config.NetworkAllowlist ?? [], credential.ChatGptUpstream ?? Config.ChatGptBaseUrl, tokens.AccessToken)
            {
                ChatGpt = new ChatGptRoute(tokens.AccountId, tokens.IsFedramp),
            }
            : new EgressOptions(ProxyImage, Config.EffectiveAllowlist, Config.ModelBaseUrl, key);

    /// <summary>A run not active here whose task trees' owner process is alive: running in another server or command line.</summary>
    private bool RunningElsewhere(string runId)
    {
        try
        {
            var owner = TaskTreeLayout.OwnerFile(Repository, runId);
            return !IsActive(runId) && File.Exists(owner) && !Labels.IsOrphanedBy(File.ReadAllText(owner).Trim());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The host variables named in env_passthrough that are set; nothing else of the host's environment enters a container.</summary>
    private Dictionary<string, string> PassedEnvironment() =>
        Config.EnvPassthrough
            .Select(name => (name, value: _hostEnvironment(name)))
            .Where(p => !string.IsNullOrEmpty(p.value))
            .ToDictionary(p => p.name, p => p.value!, StringComparer.Ordinal);

    private static RunRecord Record(RunPlan plan, DateTimeOffset startedAt, RunState status, DateTimeOffset? finishedAt, IReadOnlyList<TaskResult> results) => new()
    {
        RunId = plan.RunId,
        Status = status,
        BaseRef = plan.BaseRef,
        BaseCommit = plan.BaseCommit,
        StartedAt = startedAt,
        FinishedAt = finishedAt,
        Tasks = plan.Tasks.Select(t => new RunTaskRecord(
                t.TaskId,
                results.FirstOrDefault(r => r.TaskId == t.TaskId)?.Status ?? (status == RunState.Running ? TaskStatus.Queued : TaskStatus.Cancelled),
                results.FirstOrDefault(r => r.TaskId == t.TaskId)?.Branch)
            {
                AllowedPaths = t.AllowedPaths,
                AllowedCommands = t.AllowedCommands,
                TimeoutSec = (int)t.Timeout.TotalSeconds,
                Verify = t.Verification.Any ? t.Verification.Commands : null,
                VerifyInputs = t.Verification.Any ? t.Verification.Inputs : null,
                Attempts = t.Attempts > 1 ? t.Attempts : null,
            }).ToList(),
    };

    private static RunResult Skipped(RunPlan plan) => new()
    {
        RunId = plan.RunId,
        BaseCommit = plan.BaseCommit,
        Results = plan.Tasks.Select(TaskResults.Skipped).ToList(),
    };

    public void Dispose()
    {
        Images.Dispose();
        _credentials.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "background run {RunId} failed")]
    private partial void LogBackgroundRunFailed(Exception exception, string runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "run {RunId}: {Count} task(s) on {BaseCommit}")]
    private partial void LogRunStarted(string runId, int count, string baseCommit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "run {RunId}: teardown incomplete: {Problem}")]
    private partial void LogTeardownFailed(string runId, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "removing what killed servers left in the engine failed")]
    private partial void LogOrphanRemovalFailed(Exception exception);
}
