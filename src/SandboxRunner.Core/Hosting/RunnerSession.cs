using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;

namespace SandboxRunner.Hosting;

/// <summary>What a host outside this library (a test module, an embedding tool) opens a <see cref="RunnerSession"/> with.</summary>
public sealed record RunnerSessionOptions
{
    /// <summary>A git repository (any folder inside one); tasks start from its commits and their branches are kept in it.</summary>
    public required string RepositoryPath { get; init; }

    /// <summary>
    /// Changes to the repository's config (<c>.mcp-codex.json</c>, or the defaults without one) for this session
    /// only, e.g. another image or network policy. The file is not written.
    /// </summary>
    public Func<RunnerConfig, RunnerConfig>? Configure { get; init; }

    /// <summary>Labels added to every container, network and image the session's runs create (the runner's own win).</summary>
    public IReadOnlyDictionary<string, string> ExtraLabels { get; init; } = new Dictionary<string, string>();

    /// <summary>Where credentials named by the config (<c>model_api_key_env</c>, <c>env_passthrough</c>) are read. Default: the process environment.</summary>
    public Func<string, string?>? HostEnvironment { get; init; }

    /// <summary>Default: no logging.</summary>
    public ILoggerFactory? Loggers { get; init; }
}

/// <summary>
/// The library's one entry point for hosts: the engine, git, the repository and its config composed the
/// way the command line and the MCP server compose them, with the same operations as the MCP tools (run,
/// start, get, list, cancel, apply, doctor) and the same records as results. Disposing it cancels the
/// runs in progress and waits for their teardown: nothing of them is left running, their results stay on disk.
/// </summary>
public sealed class RunnerSession : IAsyncDisposable
{
    private readonly ProcessBackends _backends;
    private readonly GitCli _git;
    private readonly Func<string, string?> _hostEnvironment;
    private int _disposed;

    private RunnerSession(ProcessBackends backends, GitCli git, Runner runner, Func<string, string?> hostEnvironment)
    {
        _backends = backends;
        _git = git;
        Runner = runner;
        _hostEnvironment = hostEnvironment;
    }

    /// <summary>The runner the session drives, for what the operations below do not cover.</summary>
    public Runner Runner { get; }

    /// <summary>The backend the session's config names, which its runs use (for listing and removing what carries its labels).</summary>
    public ITaskBackend Backend => Runner.Backend;

    /// <summary>The repository's root folder.</summary>
    public string RepositoryRoot => Runner.Repository.Root;

    /// <summary>
    /// Opens the repository and reads its config. A missing repository or a broken config throws an
    /// <see cref="InvalidInputException"/> naming the field and the fix; nothing is created in the engine yet. The
    /// backend is the one the config (with <see cref="RunnerSessionOptions.Configure"/>'s changes) names.
    /// </summary>
    public static async Task<RunnerSession> OpenAsync(RunnerSessionOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var loggers = options.Loggers ?? NullLoggerFactory.Instance;
        var hostEnvironment = options.HostEnvironment ?? Environment.GetEnvironmentVariable;
        // Made when the config is read, from what it names (backend, registry, max_tasks_per_node).
        var backends = BackendFactory.Pool(null, loggers, options.ExtraLabels);
        try
        {
            var git = new GitCli(loggers.CreateLogger<GitCli>());
            HostRepository repository;
            try
            {
                repository = await HostRepository.OpenAsync(git, Path.GetFullPath(options.RepositoryPath), cancellationToken);
            }
            catch (Exception e) when (e is InvalidOperationException or DirectoryNotFoundException)
            {
                throw new InvalidInputException("repository", nameof(RunnerSessionOptions.RepositoryPath), $"{e.Message} Name a folder inside a git repository that has a commit.");
            }

            var config = await ConfigLoader.LoadAsync(repository.Root, cancellationToken);
            config = options.Configure?.Invoke(config) ?? config;
            var runner = new Runner(repository, config, backends.For(config), git, loggers, hostEnvironment: hostEnvironment);
            return new RunnerSession(backends, git, runner, hostEnvironment);
        }
        catch
        {
            await backends.DisposeAsync();
            throw;
        }
    }

    /// <summary>Builds or checks the task image (and the egress proxy's with <paramref name="includeProxy"/>); returns what it did.</summary>
    public Task<IReadOnlyList<string>> EnsureImagesAsync(bool includeProxy, CancellationToken cancellationToken) =>
        Runner.EnsureImagesAsync(includeProxy, cancellationToken);

    /// <summary>As <c>run_codex_tasks</c>: runs to the end; cancelling kills the containers and keeps the tasks' work.</summary>
    public Task<RunResult> RunAsync(RunRequest request, IProgress<TaskProgress>? progress, CancellationToken cancellationToken) =>
        Runner.RunAsync(request, progress, cancellationToken);

    /// <summary>As <c>start_codex_run</c>: validates and starts the run in the background; returns its id.</summary>
    public Task<RunResult> StartAsync(RunRequest request, CancellationToken cancellationToken) => Runner.StartAsync(request, cancellationToken);

    /// <summary>As <c>get_codex_run</c>; null when there is no such run.</summary>
    public Task<RunStatusView?> GetRunAsync(string runId, CancellationToken cancellationToken) => Runner.GetRunAsync(runId, cancellationToken);

    /// <summary>As <c>list_codex_runs</c>.</summary>
    public Task<IReadOnlyList<RunStatusView>> ListRunsAsync(CancellationToken cancellationToken) => Runner.ListRunsAsync(cancellationToken);

    /// <summary>As <c>cancel_codex_run</c>, waiting up to <paramref name="wait"/> for another live owner to end the run.</summary>
    public Task<CancelOutcome> CancelAsync(string runId, TimeSpan wait, CancellationToken cancellationToken) =>
        Runner.CancelAnywhereAsync(runId, wait, cancellationToken);

    /// <summary>As <c>apply_codex_result</c>: judges the task's branch again, then brings it into the working tree.</summary>
    public Task<ApplyOutcome> ApplyAsync(string runId, string taskId, int? attempt, CancellationToken cancellationToken) =>
        Runner.ApplyAsync(runId, taskId, attempt, cancellationToken);

    /// <summary>As <c>sandbox_doctor</c>, on the config the session runs with (the file as opened, with <see cref="RunnerSessionOptions.Configure"/>'s changes).</summary>
    public Task<DoctorReport> DoctorAsync(CancellationToken cancellationToken) =>
        Doctor.ExamineAsync(RepositoryRoot, Runner.Backend, _git, _hostEnvironment, Runner.Config, cancellationToken);

    /// <summary>What a server does when it starts: removes what killed processes of this repository left and recovers their task trees.</summary>
    public Task<IReadOnlyList<string>> RecoverAsync(CancellationToken cancellationToken) => Runner.RecoverInterruptedAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await Runner.ShutdownAsync(CancellationToken.None);
        }
        finally
        {
            Runner.Dispose();
            await _backends.DisposeAsync();
        }
    }
}
