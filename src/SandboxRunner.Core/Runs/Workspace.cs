using Microsoft.Extensions.Logging;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// The repository a server was started for, opened on first use. A server must come up even when the
/// repository, its config or Docker is broken, so each problem is reported to the tool call that meets it
/// (with the fix) instead of crashing the process before the client can read anything. Where its tasks run is the
/// config's choice (<c>backend</c>): each runner gets the backend its config names from the process's
/// <see cref="ProcessBackends"/>, which the workspace owns and disposes.
/// </summary>
public sealed partial class Workspace(string repoPath, ProcessBackends backends, GitCli git, ILoggerFactory loggerFactory) : IDisposable
{
    /// <summary>A workspace whose every config runs on <paramref name="backend"/> (a test's fake, or one engine chosen by its caller, who disposes it).</summary>
    public Workspace(string repoPath, ITaskBackend backend, GitCli git, ILoggerFactory loggerFactory)
        : this(repoPath, ProcessBackends.Fixed(backend), git, loggerFactory)
    {
    }

    private static readonly TimeSpan[] RecoveryRetries = [TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ILogger _logger = loggerFactory.CreateLogger<Workspace>();
    private readonly TaskCompletionSource<IReadOnlyList<string>> _recovered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ProcessRuns _process = new(RunnerConfig.Default.DefaultConcurrency);
    private readonly List<Runner> _retired = [];
    private volatile HostRepository? _repository;
    private volatile Loaded? _loaded;

    /// <summary>The runs the start-up recovery recovered, once it is over (empty when it could not run).</summary>
    public Task<IReadOnlyList<string>> Recovered => _recovered.Task;

    /// <summary>
    /// What a server does once when it starts, in the background: removes what killed servers of this
    /// repository left in the engine and recovers their task trees. Each attempt is bounded and a failed
    /// one is retried; tool calls never wait for it. Never throws.
    /// </summary>
    public async Task RecoverAtStartAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var runner = await GetRunnerAsync(cancellationToken);
                _recovered.TrySetResult(await runner.RecoverInterruptedAsync(cancellationToken));
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                _recovered.TrySetResult([]);
                return;
            }
            catch (Exception e)
            {
                LogRecoveryFailed(e, attempt + 1);
                if (attempt >= RecoveryRetries.Length)
                {
                    _recovered.TrySetResult([]);
                    return;
                }

                try
                {
                    await Task.Delay(RecoveryRetries[attempt], cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    _recovered.TrySetResult([]);
                    return;
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "start-up recovery attempt {Attempt} failed")]
    private partial void LogRecoveryFailed(Exception exception, int attempt);

    public string RepoPath { get; } = Path.GetFullPath(repoPath);

    /// <summary>
    /// The backend the config file names now, for what must work whatever state the config is in (the doctor): when
    /// there is no repository or its config cannot be read, the default (local engine) backend, so the doctor still
    /// checks the engine and reports the config's problems.
    /// </summary>
    public async Task<ITaskBackend> CurrentBackendAsync(CancellationToken cancellationToken)
    {
        try
        {
            var repository = _repository ?? await OpenRepositoryAsync(cancellationToken);
            return backends.For((await ConfigFile.ReadAsync(repository.Root, cancellationToken)).Parse());
        }
        catch (InvalidInputException)
        {
            return backends.Default;
        }
    }

    public GitCli Git => git;

    /// <summary>A runner when one is already open, without opening it (for reads that must not fail on a broken config).</summary>
    public Runner? OpenRunner => _loaded?.Runner;

    /// <summary>
    /// The runner for the config the file holds now. Each call reads <c>.mcp-codex.json</c> (hashing its
    /// bytes is cheap): when it changed and is valid, new calls get a runner with the new config, while
    /// runs in progress keep theirs; the task gate and the active runs stay the process's. An invalid
    /// file fails the call with its problems and leaves everything running as it was.
    /// </summary>
    public async Task<Runner> GetRunnerAsync(CancellationToken cancellationToken)
    {
        var repository = _repository ?? await OpenRepositoryAsync(cancellationToken);
        var file = await ConfigFile.ReadAsync(repository.Root, cancellationToken);
        if (_loaded is { } ready && ready.Identity == file.Identity)
        {
            return ready.Runner;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_loaded is { } current && current.Identity == file.Identity)
            {
                return current.Runner;
            }

            // Config problems are not cached: the user fixes the file and the next call sees it.
            var config = file.Parse();
            if (_loaded is { } previous)
            {
                var changed = ConfigFile.ChangedFields(previous.Runner.Config, config);
                if (changed.Count == 0)
                {
                    // Comments, spacing, "$schema": the same config; keep the runner.
                    _loaded = previous with { Identity = file.Identity };
                    return previous.Runner;
                }

                // Its runs in progress still use it; disposed with the workspace.
                _retired.Add(previous.Runner);
                LogReloaded(string.Join(", ", changed));
            }

            _process.Gate.Resize(config.DefaultConcurrency);
            // A config that names another backend than the previous one gets it here; the previous runner's runs keep theirs.
            var runner = new Runner(repository, config, backends.For(config), git, loggerFactory, process: _process);
            _loaded = new Loaded(runner, file.Identity);
            return runner;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<HostRepository> OpenRepositoryAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_repository is null)
            {
                try
                {
                    _repository = await HostRepository.OpenAsync(git, RepoPath, cancellationToken);
                }
                catch (Exception e) when (e is InvalidOperationException or DirectoryNotFoundException)
                {
                    throw new InvalidInputException("repository", "--repo", $"{e.Message} Start sandbox-runner inside a git repository or pass --repo PATH.");
                }
            }

            return _repository;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Asks every run in progress to stop, without waiting.</summary>
    public void CancelAll() => _process.Runs.CancelAll();

    /// <summary>The process-wide task gate, for tests that must know a task is held back rather than slow.</summary>
    internal ConcurrencyGate TaskGate => _process.Gate;

    /// <summary>Cancels the runs in progress and waits for their teardown.</summary>
    public Task ShutdownAsync(CancellationToken cancellationToken) => _process.Runs.ShutdownAsync(cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = RunnerConfig.FileName + " changed and is valid; new calls use it, runs in progress keep theirs (changed: {Fields})")]
    private partial void LogReloaded(string fields);

    /// <summary>The runner of the config file whose bytes hash to <paramref name="Identity"/>.</summary>
    private sealed record Loaded(Runner Runner, string Identity);

    public void Dispose()
    {
        _loaded?.Runner.Dispose();
        foreach (var runner in _retired)
        {
            runner.Dispose();
        }

        _gate.Dispose();
        backends.Dispose();
    }
}
