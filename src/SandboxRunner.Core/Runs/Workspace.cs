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
public sealed class Workspace(string repoPath, IContainerEngine engine, GitCli git, ILoggerFactory loggerFactory) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Runner? _runner;

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

                // What a killed server left running goes before this one starts its own, and its task
                // trees are kept as results and branches.
                try
                {
                    await engine.RemoveOrphansAsync(cancellationToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Docker not answering is reported by the call that needs it, with its fix.
                }

                await _runner.RecoverInterruptedAsync(git, cancellationToken);
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
