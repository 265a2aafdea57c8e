using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SandboxRunner.Environments;
using SandboxRunner.Platform;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// One run, start to end: the run's record and owner file, its credential's route, its egress gateway (in
/// <c>deny</c>), its environments, then its tasks through the run's and the process's gates; whatever happens,
/// <see cref="RunTeardown"/> ends it. Every result it gets is kept in memory as it is written (<see cref="RunResults"/>),
/// so the run's record is built from them, not read back.
/// </summary>
internal sealed partial class RunExecution
{
    private readonly RunServices _services;
    private readonly ActiveRun _run;
    private readonly RunPlan _plan;
    private readonly RunResults _results;
    private readonly RunStore _store;
    private readonly ILogger<RunExecution> _logger;

    private RunExecution(RunServices services, ActiveRun run)
    {
        _services = services;
        _run = run;
        _plan = run.Plan;
        _results = new RunResults(run.Plan.RunId);
        _store = new RunStore(services.Repository, _results);
        _logger = services.LoggerFactory.CreateLogger<RunExecution>();
    }

    /// <summary>Runs <paramref name="run"/> to its end; the registry starts it once the run is registered.</summary>
    public static async Task<RunResult> RunAsync(RunServices services, ActiveRun run)
    {
        // Runs on the caller's thread up to its first wait; yield so the registry can return the run first.
        await Task.Yield();
        return await new RunExecution(services, run).ExecuteAsync();
    }

    private async Task<RunResult> ExecuteAsync()
    {
        var config = _services.Config;
        var cancellationToken = _run.Cancellation.Token;
        var started = Stopwatch.GetTimestamp();
        var startedAt = _services.Clock.GetUtcNow();
        var trees = TaskTreeLayout.RunFolder(_services.Repository, _plan.RunId);
        var teardown = new RunTeardown(_services, _run, _store, _results, startedAt, trees, _logger);
        var opening = RunPhases.Start("run open (store, site, environments)");
        try
        {
            LogRunStarted(_plan.RunId, _plan.Tasks.Count, _plan.BaseCommit[..12]);
            await _store.EnsureExcludedAsync(cancellationToken);
            await _store.WriteRunAsync(RunTeardown.Record(_plan, startedAt, RunState.Running, null, []), cancellationToken);

            // Who owns the run's task trees: a server that finds them after this process is gone recovers them.
            Directory.CreateDirectory(trees);
            await File.WriteAllTextAsync(TaskTreeLayout.OwnerFile(_services.Repository, _plan.RunId), Labels.CurrentOwner, cancellationToken);

            // Another process (`sandbox-runner cancel`) asks this one to stop the run through the run folder.
            await using var cancelWatch = CancelRequestWatch.Start(_store.CancelRequestFile(_plan.RunId), _run.Cancel, _services.Clock);

            // In deny the model credential goes to the egress proxy, never into a task container; it is still redacted everywhere.
            var route = CredentialRouting.Route(config, _plan.Credential, _services.Images.ProxyImage, _services.HostEnvironment);
            teardown.Site = await _services.Backend.OpenRunSiteAsync(SiteSpec(route.Egress), cancellationToken);

            var usesCopy = await UsesCopyAsync(cancellationToken);
            // Environment tasks travel through the archive API on any engine (see ChangedTree), so they share the run's pack.
            var copy = usesCopy || _plan.Tasks.Any(t => t.Environment is not null) ? new TreeCopy(_services.Git, _services.Repository, trees, _plan.BaseCommit) : null;
            copy?.StartPack();
            var environments = new RunEnvironments(
                new EnvironmentServices(_services.Backend, _services.Git, _services.Repository, _store.RunFolder(_plan.RunId), copy!, _services.Images.TaskImage,
                    teardown.Site is { Network: NetworkIntent.Allowlist } site ? site : null, OpenSetupSiteAsync),
                config, EnvironmentsOf(_plan), _services.Scope, trees);
            teardown.Environments = environments;
            var context = new TaskContext(_services.Repository, _store, config, _plan, _services.Images.TaskImage, route.Passed, route.Redactor(), _services.Clock, _run, teardown.Site)
            {
                Copy = usesCopy ? copy : null,
                Pack = copy,
                Environments = environments,
            };
            foreach (var task in _plan.Tasks)
            {
                _run.Report(new TaskProgress(task.TaskId, TaskPhase.Queued, $"{task.TaskId}: queued"));
            }

            if (await PrepareEnvironmentsAsync(environments, cancellationToken) is { } setupFailure)
            {
                // No task container is created: every task ends failed with the reason, and the run says so.
                teardown.Running = _plan.Tasks.Select(task => FailBeforeStartAsync(task, setupFailure)).ToList();
                return await FinishedAsync(teardown.Running, started) with { NotStarted = setupFailure };
            }

            opening?.Dispose();
            using var runGate = new SemaphoreSlim(_plan.Concurrency, _plan.Concurrency);
            teardown.Running = _plan.Tasks.Select(task => RunTaskAsync(context, task, runGate, cancellationToken)).ToList();
            return await FinishedAsync(teardown.Running, started);
        }
        finally
        {
            opening?.Dispose();
            using var closing = RunPhases.Start("run close (teardown before the reply)");
            await teardown.EndAsync(cancellationToken.IsCancellationRequested);
        }
    }

    /// <summary>
    /// The <c>transport</c> field, or for <c>auto</c> the engine's answer to whether it sees this machine's
    /// files (probed once per engine with the task image: see <see cref="ITaskBackend.SharesHostFilesAsync"/>).
    /// </summary>
    private async Task<bool> UsesCopyAsync(CancellationToken cancellationToken) => _services.Config.Transport switch
    {
        Configuration.TransportPolicy.Copy => true,
        Configuration.TransportPolicy.Bind => false,
        _ => !await _services.Backend.SharesHostFilesAsync(_services.Images.Image, cancellationToken),
    };

    /// <summary>
    /// The run's site: an allowlist behind the egress proxy in <c>deny</c> (the credential stays with the proxy), the
    /// open network in <c>allow</c>, nothing in <c>none</c>.
    /// </summary>
    private RunSiteSpec SiteSpec(EgressSpec? egress) => new(
        new BoxScope(_services.Scope),
        _plan.RunId,
        egress is not null ? NetworkIntent.Allowlist : _services.Config.NetworkPolicy == Configuration.NetworkPolicy.Allow ? NetworkIntent.Open : NetworkIntent.None,
        egress);

    /// <summary>What the run's environments need to know of the run: the environments its tasks use, in the plan's order.</summary>
    internal static EnvironmentRun EnvironmentsOf(RunPlan plan) =>
        new(plan.RunId, plan.BaseCommit, plan.ResourcePolicy,
            plan.Tasks.Where(t => t.Environment is not null).Select(t => new EnvironmentUse(t.EnvironmentName!, t.Environment!, t.Runtime)).ToList())
        {
            Trust = plan.Trust,
        };

    private async Task<RunResult> FinishedAsync(List<Task<TaskResult>> running, long started)
    {
        await Task.WhenAll(running);
        return new RunResult
        {
            RunId = _plan.RunId,
            BaseCommit = _plan.BaseCommit,
            Results = running.Select(t => t.Result).ToList(),
            TotalDurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        };
    }

    private async Task<TaskResult> RunGatedAsync(TaskContext context, TaskPlan task, SemaphoreSlim runGate, CancellationToken cancellationToken)
    {
        await runGate.WaitAsync(cancellationToken);
        try
        {
            await _services.ProcessGate.WaitAsync(cancellationToken);
            try
            {
                return await _services.TaskRunner.RunAsync(context, task, cancellationToken);
            }
            finally
            {
                _services.ProcessGate.Release();
            }
        }
        finally
        {
            runGate.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "run {RunId}: {Count} task(s) on {BaseCommit}")]
    private partial void LogRunStarted(string runId, int count, string baseCommit);
}
