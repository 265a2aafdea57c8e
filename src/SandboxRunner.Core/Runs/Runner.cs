using Microsoft.Extensions.Logging;
using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// Runs batches of Codex tasks against one repository: the host's one door. It plans and checks a run, then
/// hands it to the process's <see cref="RunRegistry"/>, which runs it as a <see cref="RunExecution"/>; apply,
/// cancel, recovery, queries and images are each their own class behind it. Its config is fixed: a reloaded config gets a new Runner, and runs in
/// progress keep theirs. The task gate and the active runs are the process's (<see cref="ProcessRuns"/>):
/// the gate is the process-wide limit (<c>default_concurrency</c>) that every run shares, and a run's own
/// <c>concurrency</c> can only lower it for that run. (codex-mcp-runner limited per call, so two calls
/// could run twice the containers the machine was sized for.)
/// </summary>
public sealed partial class Runner : IDisposable
{
    private readonly ITaskBackend _backend;
    private readonly GitCli _git;
    private readonly TimeProvider _clock;
    private readonly ILogger<Runner> _logger;
    private readonly RunRegistry _runs;
    private readonly RunStore _store;
    private readonly ImageProvisioner _images;
    private readonly RunRecovery _recovery;
    private readonly RunQueries _queries;
    private readonly RunCancellation _cancellation;
    private readonly RunLeftovers _leftovers;
    private readonly ResultApplication _application;
    private readonly RunServices _services;
    private readonly Auth.CredentialResolver _credentials;

    public Runner(
        HostRepository repository,
        RunnerConfig config,
        ITaskBackend backend,
        GitCli git,
        ILoggerFactory loggerFactory,
        TimeProvider? clock = null,
        Func<string, string?>? hostEnvironment = null,
        ProcessRuns? process = null)
    {
        Repository = repository;
        Config = config;
        _backend = backend;
        _git = git;
        _clock = clock ?? TimeProvider.System;
        _logger = loggerFactory.CreateLogger<Runner>();
        hostEnvironment ??= Environment.GetEnvironmentVariable;

        // A Workspace passes the process's gate and runs to each Runner its config reloads create; alone, a Runner has its own.
        process ??= new ProcessRuns(config.DefaultConcurrency);
        _runs = process.Runs;
        _store = new RunStore(repository);
        _images = new ImageProvisioner(config, backend.Images);
        _leftovers = new RunLeftovers(backend, Labels.ScopeOf(repository.CommonDir));
        _credentials = new Auth.CredentialResolver(config, hostEnvironment, _clock);
        _queries = new RunQueries(_store, _runs, repository);
        _recovery = new RunRecovery(repository, _store, config, git, _clock, _runs, _leftovers, loggerFactory.CreateLogger<RunRecovery>());
        _cancellation = new RunCancellation(_runs, _store, repository, _queries, _leftovers, _recovery);
        _application = new ResultApplication(repository, config, _store, git);
        _services = new RunServices(repository, config, backend, git, _images, new TaskRunner(git, loggerFactory.CreateLogger<TaskRunner>()),
            process.Gate, _runs, _leftovers, _clock, hostEnvironment, loggerFactory);
    }

    public HostRepository Repository { get; }

    public RunnerConfig Config { get; }

    /// <summary>Where this runner's tasks run: the backend its config names (<see cref="BackendFactory"/>).</summary>
    public ITaskBackend Backend => _backend;

    /// <summary>The task image: the configured one, or the one built from Dockerfile.codex for the Codex version.</summary>
    public string Image => _images.Image;

    /// <summary>The egress proxy image used in <c>network_policy: deny</c>.</summary>
    public string ProxyImage => _images.ProxyImage;

    public Task<IReadOnlyList<string>> EnsureImagesAsync(bool includeProxy, CancellationToken cancellationToken) =>
        _images.EnsureAsync(includeProxy, cancellationToken);

    public bool IsActive(string runId) => _runs.IsActive(runId);

    /// <summary>
    /// What a server does when it starts on this repository: removes what its killed predecessors left in
    /// the engine (this repository's only) and recovers their task trees.
    /// </summary>
    public Task<IReadOnlyList<string>> RecoverInterruptedAsync(CancellationToken cancellationToken) =>
        _recovery.RecoverInterruptedAsync(cancellationToken);

    /// <summary>A task's stored result (its best attempt's for a task run with attempts); null when it has none yet.</summary>
    public Task<TaskResult?> ReadResultAsync(string runId, string taskId, CancellationToken cancellationToken) =>
        _store.ReadResultAsync(runId, taskId, cancellationToken);

    /// <summary>Where a task's (or one attempt's) patch, logs and result are kept.</summary>
    public string TaskFolder(string runId, string taskId, int? attempt = null) => _store.TaskFolder(runId, taskId, attempt);

    /// <summary>
    /// Removes a run's containers and networks by label, for a caller that stops waiting for the run's own
    /// teardown (an interrupted command line); returns how many containers went.
    /// </summary>
    public Task<int> RemoveRunLeftoversAsync(string runId, CancellationToken cancellationToken) =>
        _leftovers.RemoveRunAsync(runId, cancellationToken);

    /// <summary>Runs to the end and returns every result. Cancelling kills the containers; the tasks' work is kept on disk.</summary>
    public async Task<RunResult> RunAsync(RunRequest request, IProgress<TaskProgress>? progress, CancellationToken cancellationToken)
    {
        var planning = RunPhases.Start("run plan");
        var plan = await PlanAsync(request, cancellationToken);
        planning?.Dispose();
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
    public bool Cancel(string runId) => _runs.Cancel(runId);

    /// <summary>
    /// Cancels a run whichever process owns it (this one, another server or command line, or one that is
    /// gone), waiting up to <paramref name="wait"/> for a live owner to end it (see <see cref="RunCancellation"/>).
    /// </summary>
    public Task<CancelOutcome> CancelAnywhereAsync(string runId, TimeSpan wait, CancellationToken cancellationToken) =>
        _cancellation.CancelAsync(runId, wait, cancellationToken);

    /// <summary>Asks every active run to stop, without waiting.</summary>
    public void CancelAll() => _runs.CancelAll();

    /// <summary>
    /// Cancels every active run and waits until each has torn down (containers, networks, task folders)
    /// and kept what its tasks produced: a server that stops leaves nothing running.
    /// </summary>
    public Task ShutdownAsync(CancellationToken cancellationToken) => _runs.ShutdownAsync(cancellationToken);

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
    public Task<ApplyOutcome> ApplyAsync(string runId, string taskId, int? attempt, CancellationToken cancellationToken) =>
        _application.ApplyAsync(runId, taskId, attempt, cancellationToken);

    private async Task<RunPlan> PlanAsync(RunRequest request, CancellationToken cancellationToken)
    {
        ConfigChecks.ThrowIfBroken(Config);
        var plan = await RunPlanner.PlanAsync(request, Config, Repository, RunIdInUse, _clock, cancellationToken);

        // First, before an image or a container is made: a runtime the engine lacks would fail every container at its start.
        plan = await RuntimeCheck.ResolveAsync(plan, Config, _backend, cancellationToken);
        await EngineApiGuard.CheckAsync(plan, Config, _backend, cancellationToken);
        await CacheKeyCheck.CheckAsync(plan, _git, Repository, cancellationToken);
        plan = plan with
        {
            Credential = await _credentials.ResolveAsync(plan.LongestDuration, cancellationToken),
            Trust = TrustedAuthorities.Load(Config, Repository.Root),
        };
        await _images.CheckAsync(plan.DryRun, cancellationToken);
        if (plan.DryRun)
        {
            await CheckEnvironmentsAsync(plan, cancellationToken);
        }

        return plan;
    }

    private ActiveRun Register(RunPlan plan, IProgress<TaskProgress>? progress) =>
        _runs.Register(new ActiveRun(plan, _clock.GetUtcNow(), progress), run => RunExecution.RunAsync(_services, run));

    /// <summary>A run id is reused only when nothing of an earlier run with that id is left: folder, trees or unmerged branches.</summary>
    private bool RunIdInUse(string runId) =>
        _runs.IsActive(runId) || _store.Exists(runId) || Directory.Exists(TaskTreeLayout.RunFolder(Repository, runId))
        || ResultBranch.AnyFor(Repository, runId);

    private static RunResult Skipped(RunPlan plan) => new()
    {
        RunId = plan.RunId,
        BaseCommit = plan.BaseCommit,
        Results = plan.Tasks.Select(TaskResults.Skipped).ToList(),
    };

    public void Dispose()
    {
        _images.Dispose();
        _credentials.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "background run {RunId} failed")]
    private partial void LogBackgroundRunFailed(Exception exception, string runId);
}
