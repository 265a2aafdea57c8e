using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Hosting;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;

namespace SandboxRunner.Testcontainers;

/// <summary>
/// Codex tasks against one fixture repository, as a Testcontainers resource: built by
/// <see cref="CodexTaskRunnerBuilder"/>, started by <see cref="StartAsync"/> (engine reachable, images there,
/// what killed test processes left removed), then any number of runs whose results are the runner's own
/// records, and <see cref="DisposeAsync"/>, after which nothing it created is left in the engine. The same
/// policies and guarantees as the MCP tools: it is the same runner.
/// </summary>
public sealed class CodexTaskRunner : IAsyncDisposable
{
    private readonly CodexTaskRunnerConfiguration _configuration;
    private readonly Guid _instance = Guid.NewGuid();
    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private RunnerSession? _session;
    private bool _disposed;

    internal CodexTaskRunner(CodexTaskRunnerConfiguration configuration)
    {
        _configuration = configuration;
        Labels = SessionLabels.For(_instance);
    }

    public CodexTaskRunnerConfiguration Configuration => _configuration;

    /// <summary>The labels on everything this runner's runs create (Testcontainers' session, this instance, the test process).</summary>
    public IReadOnlyDictionary<string, string> Labels { get; }

    /// <summary>The library's session under this resource, for what the methods here do not cover; throws before <see cref="StartAsync"/>.</summary>
    public RunnerSession Session => _disposed
        ? throw new ObjectDisposedException(nameof(CodexTaskRunner), "this runner was disposed; build a new one")
        : _session ?? throw new InvalidOperationException($"call {nameof(StartAsync)} first");

    /// <summary>
    /// Opens the repository and its config with this builder's changes, checks the engine, removes what test
    /// processes that were killed left (by the module's labels), and builds or finds the images the runs need.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _lifecycle.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_session is not null)
            {
                return;
            }

            var session = await OpenAsync(cancellationToken);
            try
            {
                await session.Backend.DescribeAsync(cancellationToken);
                await SweepOrphansAsync(session.Backend, cancellationToken);
                if (_configuration.Model == ModelSource.Scripted && _configuration.Image is null)
                {
                    var recipe = FakeCodexImage.Recipe();
                    if (!await session.Backend.Images.ExistsAsync(recipe.Tag, cancellationToken))
                    {
                        await session.Backend.Images.BuildAsync(recipe, cancellationToken);
                    }
                }

                await session.EnsureImagesAsync(session.Runner.Config.NetworkPolicy == NetworkPolicy.Deny, cancellationToken);
            }
            catch
            {
                await session.DisposeAsync();
                throw;
            }

            _session = session;
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    private Task<RunnerSession> OpenAsync(CancellationToken cancellationToken)
    {
        var c = _configuration;
        string? keyVariable = null;
        return RunnerSession.OpenAsync(
            new RunnerSessionOptions
            {
                RepositoryPath = c.RepositoryPath!,
                ExtraLabels = new Dictionary<string, string>(c.Labels.Concat(Labels)),
                Loggers = c.Loggers,
                Configure = config =>
                {
                    config = config with
                    {
                        Image = c.Image ?? (c.Model == ModelSource.Scripted ? FakeCodexImage.Recipe().Tag : config.Image),
                        NetworkPolicy = c.NetworkPolicy ?? config.NetworkPolicy,
                        NetworkAllowlist = c.NetworkAllowlist ?? config.NetworkAllowlist,
                        DefaultAllowedPaths = c.AllowedPaths ?? config.DefaultAllowedPaths,
                        AllowedCommands = c.AllowedCommands ?? config.AllowedCommands,
                    };
                    config = c.Configure?.Invoke(config) ?? config;
                    keyVariable = config.ModelApiKeyEnv;
                    return config;
                },
                HostEnvironment = c.Model switch
                {
                    // A scripted run reads no credential: what the developer's shell holds must not change a test.
                    ModelSource.Scripted => _ => null,
                    ModelSource.ModelKey => name => name == keyVariable ? c.ModelKey : System.Environment.GetEnvironmentVariable(name),
                    _ => null,
                },
            },
            cancellationToken);
    }

    /// <summary>Runs the tasks to the end (as <c>run_codex_tasks</c>); every task's result, in order.</summary>
    public Task<RunResult> RunAsync(IReadOnlyList<CodexTask> tasks, CancellationToken cancellationToken = default) =>
        RunAsync(tasks, null, cancellationToken);

    /// <summary>As <see cref="RunAsync(IReadOnlyList{CodexTask}, CancellationToken)"/>, reporting each task's progress.</summary>
    public async Task<RunResult> RunAsync(IReadOnlyList<CodexTask> tasks, IProgress<TaskProgress>? progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        return await Session.RunAsync(Request(tasks), progress, cancellationToken);
    }

    /// <summary>Runs one task to the end and returns its result (with attempts, the best attempt's).</summary>
    public async Task<TaskResult> RunAsync(CodexTask task, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(task);
        var run = await RunAsync([task], cancellationToken);
        return run.Results.Single(r => r.TaskId == task.Id);
    }

    /// <summary>Starts the tasks in the background (as <c>start_codex_run</c>); follow them with <see cref="GetRunAsync"/>.</summary>
    public async Task<string> StartRunAsync(IReadOnlyList<CodexTask> tasks, CancellationToken cancellationToken = default) =>
        (await Session.StartAsync(Request(tasks), cancellationToken)).RunId;

    /// <summary>As <c>get_codex_run</c>; null when there is no such run.</summary>
    public Task<RunStatusView?> GetRunAsync(string runId, CancellationToken cancellationToken = default) => Session.GetRunAsync(runId, cancellationToken);

    /// <summary>As <c>cancel_codex_run</c>.</summary>
    public Task<CancelOutcome> CancelAsync(string runId, CancellationToken cancellationToken = default) =>
        Session.CancelAsync(runId, TimeSpan.FromSeconds(30), cancellationToken);

    /// <summary>As <c>apply_codex_result</c>: brings the task's branch into the fixture repository's working tree after judging it again.</summary>
    public Task<ApplyOutcome> ApplyAsync(string runId, string taskId, CancellationToken cancellationToken = default) =>
        Session.ApplyAsync(runId, taskId, null, cancellationToken);

    /// <summary>As <c>sandbox_doctor</c>, on the config this runner's runs get: the repository's with the builder's changes.</summary>
    public async Task<DoctorReport> DoctorAsync(CancellationToken cancellationToken = default)
    {
        var report = await Session.DoctorAsync(cancellationToken);
        if (_configuration.Model != ModelSource.Scripted)
        {
            return report;
        }

        // The fake Codex CLI calls no model: "Codex has no credential, set OPENAI_API_KEY" would send the reader after a fix nothing needs.
        var checks = report.Checks
            .Select(c => c.Check == "auth" ? c with { Status = Doctor.Ok, Detail = "scripted model: the fake Codex CLI plays each task's script and calls no model API, so no credential is needed", Fix = null } : c)
            .ToList();
        return new DoctorReport(checks.All(c => c.Status != Doctor.Fail), checks);
    }

    private RunRequest Request(IReadOnlyList<CodexTask> tasks) => new()
    {
        Tasks = tasks.Select(t => t.ToRequest(_configuration.Model)).ToList(),
        Environment = _configuration.Environment,
        Verify = _configuration.Verify,
    };

    /// <summary>
    /// Cancels runs in progress and waits for their teardown (their results stay in the fixture repository),
    /// then removes every container, network and run image that carries this instance's label. Cached images
    /// (the task image, environments' images) are kept for the next runner, as the command line keeps them.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _lifecycle.WaitAsync();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_session is { } session)
            {
                try
                {
                    await session.Runner.ShutdownAsync(CancellationToken.None);
                    await RemoveInstanceAsync(session.Backend, _instance.ToString("D"), CancellationToken.None);
                }
                finally
                {
                    await session.DisposeAsync();
                }
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// What test processes that no longer run left: their runs' containers and networks (by the runner's owner
    /// label) and run images (by the module's). Only those of dead processes: other test processes share the engine.
    /// </summary>
    private static async Task SweepOrphansAsync(ITaskBackend backend, CancellationToken cancellationToken)
    {
        await backend.RemoveOrphansAsync(BoxScope.Labelled(SessionLabels.Owner), cancellationToken);
        await RemoveRunImagesAsync(
            backend,
            LabelSelector.Of(SessionLabels.Owner),
            labels => labels.TryGetValue(SessionLabels.Owner, out var owner) && Boxes.Labels.IsOrphanedBy(owner),
            cancellationToken);
    }

    /// <summary>Every box and network of this instance, run by run, then its run images (which carry no runner owner label).</summary>
    private static async Task RemoveInstanceAsync(ITaskBackend backend, string id, CancellationToken cancellationToken)
    {
        var instance = BoxScope.Labelled(SessionLabels.Instance, id);
        foreach (var run in (await backend.FindBoxesAsync(instance, null, cancellationToken)).Select(b => b.RunId).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            await backend.RemoveRunAsync(instance, run, cancellationToken);
        }

        await RemoveRunImagesAsync(backend, LabelSelector.Of(SessionLabels.Instance, id), _ => true, cancellationToken);
    }

    private static async Task RemoveRunImagesAsync(ITaskBackend backend, LabelSelector selector, Func<IReadOnlyDictionary<string, string>, bool> removable, CancellationToken cancellationToken)
    {
        foreach (var image in await backend.Images.ListAsync(selector.And(Boxes.Labels.Role, ImageRoles.Run), cancellationToken))
        {
            if (removable(image.Labels))
            {
                foreach (var tag in image.Tags.DefaultIfEmpty(image.Id))
                {
                    await backend.Images.RemoveAsync(tag, cancellationToken);
                }
            }
        }
    }
}
