using Microsoft.Extensions.Logging;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Runs;

/// <summary>
/// The repository a server was started for, opened on first use. A server must come up even when the
/// repository, its config or Docker is broken, so each problem is reported to the tool call that meets it
/// (with the fix) instead of crashing the process before the client can read anything.
/// </summary>
public sealed partial class Workspace(string repoPath, IContainerEngine engine, GitCli git, ILoggerFactory loggerFactory) : IDisposable
{
    private static readonly TimeSpan[] RecoveryRetries = [TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ILogger _logger = loggerFactory.CreateLogger<Workspace>();
    private readonly TaskCompletionSource<IReadOnlyList<string>> _recovered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Runner? _runner;

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

    public IContainerEngine Engine => engine;

    public GitCli Git => git;

    /// <summary>A runner when one is already open, without opening it (for reads that must not fail on a broken config).</summary>
    public Runner? OpenRunner => _runner;

    public async Task<Runner> GetRunnerAsync(CancellationToken cancellationToken)
    {
        if (_runner is { } ready)
        {
            return ready;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_runner is null)
            {
                HostRepository repository;
                try
                {
                    repository = await HostRepository.OpenAsync(git, RepoPath, cancellationToken);
                }
                catch (Exception e) when (e is InvalidOperationException or DirectoryNotFoundException)
                {
                    throw new InvalidInputException("repository", "--repo", $"{e.Message} Start sandbox-runner inside a git repository or pass --repo PATH.");
                }

                // Config problems are not cached: the user fixes the file and the next call sees it.
                var config = await ConfigLoader.LoadAsync(repository.Root, cancellationToken);
                _runner = new Runner(repository, config, engine, git, loggerFactory);
            }

            return _runner;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Asks every run in progress to stop, without waiting.</summary>
    public void CancelAll() => _runner?.CancelAll();

    /// <summary>Cancels the runs in progress and waits for their teardown.</summary>
    public Task ShutdownAsync(CancellationToken cancellationToken) =>
        _runner?.ShutdownAsync(cancellationToken) ?? Task.CompletedTask;

    public void Dispose()
    {
        _runner?.Dispose();
        _gate.Dispose();
    }
}
