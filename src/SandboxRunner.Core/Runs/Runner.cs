using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Runs;

/// <summary>
/// Runs batches of Codex tasks against one repository. One instance per process: its task gate is the
/// process-wide limit (<c>default_concurrency</c>) that every run shares, and a run's own
/// <c>concurrency</c> can only lower it for that run. (codex-mcp-runner limited per call, so two calls
/// could run twice the containers the machine was sized for.)
/// </summary>
public sealed partial class Runner : IDisposable
{
    private readonly IContainerEngine _engine;
    private readonly TaskRunner _taskRunner;
    private readonly TimeProvider _clock;
    private readonly Func<string, string?> _hostEnvironment;
    private readonly ILogger<Runner> _logger;
    private readonly SemaphoreSlim _processGate;
    private readonly SemaphoreSlim _imageGate = new(1, 1);
    private readonly ConcurrentDictionary<string, ActiveRun> _activeRuns = new(StringComparer.Ordinal);

    public Runner(
        HostRepository repository,
        RunnerConfig config,
        IContainerEngine engine,
        GitCli git,
        ILoggerFactory loggerFactory,
        TimeProvider? clock = null,
        Func<string, string?>? hostEnvironment = null)
    {
        Repository = repository;
        Config = config;
        Store = new RunStore(repository);
        _engine = engine;
        _taskRunner = new TaskRunner(engine, git, loggerFactory.CreateLogger<TaskRunner>());
        _clock = clock ?? TimeProvider.System;
        _hostEnvironment = hostEnvironment ?? Environment.GetEnvironmentVariable;
        _logger = loggerFactory.CreateLogger<Runner>();
        _processGate = new SemaphoreSlim(config.DefaultConcurrency, config.DefaultConcurrency);
    }

    public HostRepository Repository { get; }

    public RunnerConfig Config { get; }

    public RunStore Store { get; }

    /// <summary>The task image: the configured one, or the one built from Dockerfile.codex for the Codex version.</summary>
    public string Image => Config.Image ?? ImageRecipe.Codex(Config.CodexVersion).Tag;

    /// <summary>The egress proxy image used in <c>network_policy: deny</c>.</summary>
    public string ProxyImage => ImageRecipe.EgressProxy().Tag;

    /// <summary>
    /// Builds the runner's own images that are missing: the task image (unless the config names its own)
    /// and, for <c>deny</c>, the egress proxy. One build at a time per process; a finished one is reused.
    /// </summary>
    public async Task<IReadOnlyList<string>> EnsureImagesAsync(bool includeProxy, CancellationToken cancellationToken)
    {
        await _imageGate.WaitAsync(cancellationToken);
        try
        {
            var built = new List<string>();
            if (Config.Image is null && !await _engine.ImageExistsAsync(Image, cancellationToken))
            {
                var tarball = await CodexTarball.ResolveAsync(Config.CodexVersion, cancellationToken);
                await _engine.BuildImageAsync(ImageRecipe.Codex(Config.CodexVersion, tarball), cancellationToken);
                built.Add(Image);
            }

            if (includeProxy && !await _engine.ImageExistsAsync(ProxyImage, cancellationToken))
            {
                await _engine.BuildImageAsync(ImageRecipe.EgressProxy(), cancellationToken);
                built.Add(ProxyImage);
            }

            return built;
        }
        finally
        {
            _imageGate.Release();
        }
    }

    public bool IsActive(string runId) => _activeRuns.ContainsKey(runId);

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

    private const string OwnerFile = "owner";

    /// <summary>
    /// Task trees left by a server process that is gone (killed, crashed): their work is kept like a
    /// cancelled task's (patch, result, branch), then the trees go. Returns the runs recovered.
    /// </summary>
    public async Task<IReadOnlyList<string>> RecoverInterruptedAsync(GitCli git, CancellationToken cancellationToken)
    {
        var root = Path.Combine(Repository.RunnerDir, "worktrees");
        var recovered = new List<string>();
        if (!Directory.Exists(root))
        {
            return recovered;
        }

        foreach (var runDir in Directory.EnumerateDirectories(root))
        {
            var runId = Path.GetFileName(runDir);
            var ownerFile = Path.Combine(runDir, OwnerFile);
            if (!Ids.IsValid(runId) || IsActive(runId) || !File.Exists(ownerFile)
                || !Labels.IsOrphanedBy((await File.ReadAllTextAsync(ownerFile, cancellationToken)).Trim())
                || await Store.ReadRunAsync(runId, cancellationToken) is not { } record)
            {
                continue;
            }

            foreach (var taskDir in Directory.EnumerateDirectories(runDir))
            {
                var taskId = Path.GetFileName(taskDir);
                if (Ids.IsValid(taskId) && await Store.ReadResultAsync(runId, taskId, cancellationToken) is null)
                {
                    await RecoverTaskAsync(git, record, taskId, taskDir, cancellationToken);
                }
            }

            var results = new List<TaskResult>();
            foreach (var task in record.Tasks)
            {
                if (await Store.ReadResultAsync(runId, task.TaskId, cancellationToken) is { } result)
                {
                    results.Add(result);
                }
            }

            await Store.WriteRunAsync(record with
            {
                Status = "interrupted",
                FinishedAt = _clock.GetUtcNow(),
                Tasks = record.Tasks.Select(t => results.FirstOrDefault(r => r.TaskId == t.TaskId) is { } r
                    ? new RunTaskRecord(t.TaskId, r.Status, r.Branch)
                    : t with { Status = TaskStatus.Cancelled }).ToList(),
            }, cancellationToken);
            TreeDeletion.Delete(runDir);
            recovered.Add(runId);
        }

        return recovered;
    }

    private async Task RecoverTaskAsync(GitCli git, RunRecord record, string taskId, string taskDir, CancellationToken cancellationToken)
    {
        var result = new TaskResult
        {
            TaskId = taskId,
            Status = TaskStatus.Cancelled,
            WorkspacePath = Store.TaskFolder(record.RunId, taskId),
            Summary = "Interrupted: the server stopped during this task.",
            NotesForManager = "interrupted: the server process was gone before this task ended; its tree was recovered when the next server started",
        };
        byte[] patch = [];
        var worktree = Worktree.Open(git, taskDir, record.BaseCommit);
        if (Directory.Exists(worktree.WorkPath))
        {
            var changes = await worktree.CollectChangesAsync(cancellationToken);
            patch = changes.Patch;
            string? branch = null;
            if (changes.Entries.Count > 0)
            {
                branch = ResultBranch.NameFor(record.RunId, taskId);
                ResultBranch.Commit(Repository, worktree, changes, branch, $"{taskId}: interrupted\n\nsandbox-runner run {record.RunId}, recovered after the server stopped.", _clock.GetUtcNow());
            }

            // Recovered work is for inspection: nothing was validated against the policies.
            result = result with { FilesChanged = changes.Files, Patch = System.Text.Encoding.UTF8.GetString(patch), Branch = branch };
        }

        await Store.WriteResultAsync(record.RunId, result, patch, cancellationToken);
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
    public async Task<RunStatusView?> GetRunAsync(string runId, CancellationToken cancellationToken)
    {
        if (_activeRuns.TryGetValue(runId, out var active))
        {
            return active.View();
        }

        return Ids.IsValid(runId) && await Store.ReadRunAsync(runId, cancellationToken) is { } record
            ? await StoredViewAsync(record, cancellationToken)
            : null;
    }

    /// <summary>Every run this repository has on disk, newest first, with the active ones' live state.</summary>
    public async Task<IReadOnlyList<RunStatusView>> ListRunsAsync(CancellationToken cancellationToken)
    {
        // Runs that started a moment ago may not have written run.json yet; they are listed all the same.
        var stored = await Store.ListRunsAsync(cancellationToken);
        var views = _activeRuns.Values.Where(a => stored.All(r => r.RunId != a.Plan.RunId)).Select(a => a.View()).ToList();
        foreach (var record in stored)
        {
            views.Add(_activeRuns.TryGetValue(record.RunId, out var active) ? active.View() : Summarize(record));
        }

        return views;
    }

    private async Task<RunPlan> PlanAsync(RunRequest request, CancellationToken cancellationToken)
    {
        var plan = await RunPlanner.PlanAsync(request, Config, Repository, RunIdInUse, _clock, cancellationToken);
        await CheckEnvironmentAsync(plan.DryRun, cancellationToken);
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
        try
        {
            LogRunStarted(plan.RunId, plan.Tasks.Count, plan.BaseCommit[..12]);
            await Store.EnsureExcludedAsync(cancellationToken);
            await Store.WriteRunAsync(Record(plan, startedAt, "running", null, []), cancellationToken);

            // Who owns the run's task trees: a server that finds them after this process is gone recovers them.
            var trees = ContainedPath.Combine(Repository.RunnerDir, "worktrees", plan.RunId);
            Directory.CreateDirectory(trees);
            await File.WriteAllTextAsync(Path.Combine(trees, OwnerFile), Labels.CurrentOwner, cancellationToken);

            // In deny the model key goes to the egress proxy, never into a task container; it is still redacted everywhere.
            var key = _hostEnvironment(Config.ModelApiKeyEnv);
            var passed = PassedEnvironment();
            var secrets = new Dictionary<string, string>(passed);
            if (!string.IsNullOrEmpty(key))
            {
                secrets[Config.ModelApiKeyEnv] = key;
            }

            await using var gateway = Config.NetworkPolicy == NetworkPolicy.Deny
                ? await EgressGateway.StartAsync(_engine, plan.RunId, new EgressOptions(ProxyImage, Config.EffectiveAllowlist, Config.ModelBaseUrl, key), cancellationToken)
                : null;
            if (gateway is not null)
            {
                passed.Remove(Config.ModelApiKeyEnv);
            }

            var context = new TaskContext(Repository, Store, Config, plan, Image, passed, new Redactor(secrets), _clock, run, gateway);
            using var runGate = new SemaphoreSlim(plan.Concurrency, plan.Concurrency);
            foreach (var task in plan.Tasks)
            {
                run.Report(new TaskProgress(task.TaskId, "queued", $"{task.TaskId}: queued"));
            }

            var running = plan.Tasks.Select(task => RunGatedAsync(context, task, runGate, cancellationToken)).ToList();
            try
            {
                await Task.WhenAll(running);
            }
            finally
            {
                var finished = running.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).ToList();
                foreach (var task in plan.Tasks.Where(t => finished.All(r => r.TaskId != t.TaskId)))
                {
                    // Cancelled before it had a container: it still gets a result, so every task of a run has one.
                    if (await Store.ReadResultAsync(plan.RunId, task.TaskId, CancellationToken.None) is null)
                    {
                        var cancelled = new TaskResult
                        {
                            TaskId = task.TaskId,
                            Status = TaskStatus.Cancelled,
                            Summary = "Cancelled before it started.",
                            WorkspacePath = Store.TaskFolder(plan.RunId, task.TaskId),
                        };
                        await Store.WriteResultAsync(plan.RunId, cancelled, [], CancellationToken.None);
                        run.Report(new TaskProgress(task.TaskId, "finished", $"{task.TaskId}: cancelled before it started") { Result = cancelled });
                    }
                }

                await Store.WriteRunAsync(
                    Record(plan, startedAt, cancellationToken.IsCancellationRequested ? "cancelled" : "finished", _clock.GetUtcNow(), finished),
                    CancellationToken.None);
            }

            await Store.PruneAsync(Config.MaxRunsRetained, IsActive, CancellationToken.None);
            return new RunResult
            {
                RunId = plan.RunId,
                BaseCommit = plan.BaseCommit,
                Results = running.Select(t => t.Result).ToList(),
                TotalDurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            };
        }
        finally
        {
            TreeDeletion.Delete(ContainedPath.Combine(Repository.RunnerDir, "worktrees", plan.RunId));
            _activeRuns.TryRemove(plan.RunId, out _);
            run.Dispose();
        }
    }

    private async Task<RunStatusView> StoredViewAsync(RunRecord record, CancellationToken cancellationToken)
    {
        var tasks = new List<TaskStatusView>();
        foreach (var task in record.Tasks)
        {
            var result = await Store.ReadResultAsync(record.RunId, task.TaskId, cancellationToken);
            tasks.Add(new TaskStatusView(task.TaskId, result is null && task.Status == TaskState.Queued ? TaskState.Queued : TaskState.Finished, result));
        }

        return Summarize(record) with { Tasks = tasks };
    }

    /// <summary>A stored run; one still marked running but not active here was cut short by a stopped server.</summary>
    private static RunStatusView Summarize(RunRecord record) => new()
    {
        RunId = record.RunId,
        Status = record.Status == "running" ? "interrupted" : record.Status,
        BaseCommit = record.BaseCommit,
        StartedAt = record.StartedAt,
        FinishedAt = record.FinishedAt,
        Tasks = record.Tasks.Select(t => new TaskStatusView(t.TaskId, t.Status is TaskState.Queued ? TaskState.Queued : TaskState.Finished, null)).ToList(),
    };

    /// <summary>
    /// Docker answers and the images are there or can be built. A real run builds what is missing (the
    /// first run on a machine pays for it once); a dry run only checks that it could.
    /// </summary>
    private async Task CheckEnvironmentAsync(bool dryRun, CancellationToken cancellationToken)
    {
        bool present;
        try
        {
            present = await _engine.ImageExistsAsync(Image, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new InvalidInputException("docker", "(engine)", $"Docker is not reachable ({e.Message}); start the engine (bash .ci/setup does) or set DOCKER_HOST");
        }

        var deny = Config.NetworkPolicy == NetworkPolicy.Deny;
        if (!present && Config.Image is not null)
        {
            throw new InvalidInputException(
                "task image", "image", $"'{Image}' is not in the Docker engine; build or load it, or remove \"image\" from {RunnerConfig.FileName} to use the image built from Dockerfile.codex");
        }

        if (dryRun)
        {
            if (!present && !CodexTarball.NpmAvailable())
            {
                throw new InvalidInputException("task image", "image", $"'{Image}' is missing and cannot be built here: building it asks npm where the Codex CLI is published, and npm is not on PATH");
            }

            return;
        }

        try
        {
            await EnsureImagesAsync(deny, cancellationToken);
        }
        catch (Exception e) when (e is ImageBuildException or InvalidOperationException)
        {
            throw new InvalidInputException("task image", "image", e.Message);
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

    private bool RunIdInUse(string runId) =>
        _activeRuns.ContainsKey(runId) || Store.Exists(runId) || Directory.Exists(ContainedPath.Combine(Repository.RunnerDir, "worktrees", runId));

    /// <summary>The host variables named in env_passthrough that are set; nothing else of the host's environment enters a container.</summary>
    private Dictionary<string, string> PassedEnvironment() =>
        Config.EnvPassthrough
            .Select(name => (name, value: _hostEnvironment(name)))
            .Where(p => !string.IsNullOrEmpty(p.value))
            .ToDictionary(p => p.name, p => p.value!, StringComparer.Ordinal);

    private static RunRecord Record(RunPlan plan, DateTimeOffset startedAt, string status, DateTimeOffset? finishedAt, IReadOnlyList<TaskResult> results) => new()
    {
        RunId = plan.RunId,
        Status = status,
        BaseRef = plan.BaseRef,
        BaseCommit = plan.BaseCommit,
        StartedAt = startedAt,
        FinishedAt = finishedAt,
        Tasks = plan.Tasks.Select(t => results.FirstOrDefault(r => r.TaskId == t.TaskId) is { } r
            ? new RunTaskRecord(t.TaskId, r.Status, r.Branch)
            : new RunTaskRecord(t.TaskId, status == "running" ? "queued" : TaskStatus.Cancelled, null)).ToList(),
    };

    private static RunResult Skipped(RunPlan plan) => new()
    {
        RunId = plan.RunId,
        BaseCommit = plan.BaseCommit,
        Results = plan.Tasks.Select(t => new TaskResult
        {
            TaskId = t.TaskId,
            Status = TaskStatus.Skipped,
            PatchApplicable = false,
            Summary = "dry run: validated (config, ids, base_ref, policies, Docker, image), not executed",
        }).ToList(),
    };

    public void Dispose()
    {
        _processGate.Dispose();
        _imageGate.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "background run {RunId} failed")]
    private partial void LogBackgroundRunFailed(Exception exception, string runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "run {RunId}: {Count} task(s) on {BaseCommit}")]
    private partial void LogRunStarted(string runId, int count, string baseCommit);
}
