using Microsoft.Extensions.Logging;

namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// The backend's gateways (<see cref="DockerEgress"/>): at most <see cref="Capacity"/> made ahead of need, each
/// handed to exactly one run and removed after it, never recycled. A spare holds nothing of any run (its proxy
/// waits on its standard input, listening nowhere) until the run that takes it writes its allowlist and credential
/// there. The first allowlist site a backend opens makes its gateway itself, and so does the second, which starts
/// the first spare: a process that runs one deny run (a command line's <c>run</c>) never makes one it would only
/// remove at exit; from then on each take starts the next. A
/// closed site's gateway is removed here, after the site's close returned (nothing the run's reply needs waits for
/// it); <see cref="SettledAsync"/> waits for those removals and disposing waits for all. What a killed process
/// leaves (a spare, a gateway whose removal never ran) carries its owner and <see cref="DockerEgress.GatewayLabel"/>,
/// which the orphan sweep removes (<see cref="DockerBackend.RemoveOrphansAsync(LabelSelector, CancellationToken)"/>).
/// </summary>
internal sealed partial class DockerGateways(DockerBackend docker, ILogger logger) : IAsyncDisposable
{
    private static readonly TimeSpan RemovalBudget = TimeSpan.FromSeconds(60);
    private readonly Lock _gate = new();
    private readonly List<Task<DockerEgress?>> _spares = [];
    private readonly List<Task> _removals = [];
    private readonly List<DockerEgress> _live = [];
    private readonly CancellationTokenSource _stopping = new();
    private bool _disposed;
    private int _opened;

    /// <summary>How many gateways are kept made ahead of need (0: each run makes its own).</summary>
    public int Capacity { get; set; } = 1;

    /// <summary>
    /// A gateway for <paramref name="site"/>, handed over: the spare when one was made with the same proxy image and
    /// DNS (waiting for it when it is still being made), otherwise one made now. Starts the next spare either way.
    /// </summary>
    public async Task<DockerEgress> OpenAsync(RunSiteSpec site, EgressSpec egress, CancellationToken cancellationToken)
    {
        var key = GatewayKey.Of(egress);
        var spare = TakeSpare(key);
        if (Interlocked.Increment(ref _opened) > 1)
        {
            Refill(key);
        }

        if (spare is not null)
        {
            var made = spare.ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            DockerEgress? taken;
            try
            {
                taken = await made.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Taken from the pool and still being made: removed once it is.
                _ = made.ContinueWith(t => { if (t.Result is { } g) { Retire(g); } }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                throw;
            }

            if (taken is not null && !taken.Key.Equals(key))
            {
                Retire(taken);
            }
            else if (taken is not null && await TryHandOverAsync(taken, site, egress, cancellationToken))
            {
                return taken;
            }
        }

        var own = await DockerEgress.PrepareAsync(docker, key, cancellationToken);
        await TryHandOverAsync(own, site, egress, cancellationToken, rethrow: true);
        return own;
    }

    private async Task<bool> TryHandOverAsync(DockerEgress gateway, RunSiteSpec site, EgressSpec egress, CancellationToken cancellationToken, bool rethrow = false)
    {
        lock (_gate)
        {
            _live.Add(gateway);
        }

        try
        {
            await gateway.HandOverAsync(site, egress, cancellationToken);
            return true;
        }
        catch (Exception e) when (!rethrow && e is InvalidOperationException or IOException && !cancellationToken.IsCancellationRequested)
        {
            // A spare that died while it waited (killed, out of memory): the run gets a gateway made for it instead.
            LogSpareFailed(gateway.Id, e.Message);
            Retire(gateway);
            return false;
        }
        catch
        {
            Retire(gateway);
            throw;
        }
    }

    private Task<DockerEgress?>? TakeSpare(GatewayKey key)
    {
        lock (_gate)
        {
            for (var i = 0; i < _spares.Count; i++)
            {
                var spare = _spares[i];
                if (spare.IsCompletedSuccessfully && spare.Result is { } made && !made.Key.Equals(key))
                {
                    // Made for another proxy image or DNS: of no use to the runs that come now.
                    _spares.RemoveAt(i--);
                    RetireLocked(made);
                    continue;
                }

                if (!spare.IsCompleted || spare.Result is not null)
                {
                    _spares.RemoveAt(i);
                    return spare;
                }

                _spares.RemoveAt(i--);
            }

            return null;
        }
    }

    private void Refill(GatewayKey key)
    {
        lock (_gate)
        {
            if (_disposed || _spares.Count >= Capacity)
            {
                return;
            }

            _spares.Add(MakeSpareAsync(key));
        }
    }

    private async Task<DockerEgress?> MakeSpareAsync(GatewayKey key)
    {
        await Task.Yield();
        try
        {
            return await DockerEgress.PrepareAsync(docker, key, _stopping.Token);
        }
        catch (Exception e)
        {
            // The run that wanted it makes its own and reports what fails there.
            LogSpareFailed("(new)", e.Message);
            return null;
        }
    }

    /// <summary>Removes <paramref name="gateway"/> in the background, with force; the caller does not wait.</summary>
    public void Retire(DockerEgress gateway)
    {
        lock (_gate)
        {
            RetireLocked(gateway);
        }
    }

    private void RetireLocked(DockerEgress gateway)
    {
        _live.Remove(gateway);
        if (!gateway.MarkRetired())
        {
            // Its site's close and its run's teardown both retire it: one removal is enough.
            return;
        }

        _removals.RemoveAll(t => t.IsCompleted);
        _removals.Add(RemoveAsync(gateway));
    }

    /// <summary>Counts <paramref name="removal"/> (a box's holder going) among what <see cref="SettledAsync"/> waits for.</summary>
    public void Track(Task removal)
    {
        lock (_gate)
        {
            _removals.RemoveAll(t => t.IsCompleted);
            _removals.Add(removal);
        }
    }

    private async Task RemoveAsync(DockerEgress gateway)
    {
        await Task.Yield();
        try
        {
            using var budget = new CancellationTokenSource(RemovalBudget);
            await gateway.RemoveAsync(budget.Token);
        }
        catch (Exception e)
        {
            // Left to the orphan sweep once this process is gone, and said now.
            LogRemovalFailed(gateway.Id, gateway.NetworkName, e.Message);
        }
    }

    /// <summary>The gateways handed to <paramref name="runId"/> of <paramref name="scope"/> and not yet retired.</summary>
    public IReadOnlyList<DockerEgress> Of(BoxScope scope, string runId)
    {
        lock (_gate)
        {
            return _live.Where(g => g.Site is { } site && site.RunId == runId && site.Scope.Repository == scope.Repository).ToList();
        }
    }

    /// <summary>The spares, once made (waiting for those being made): what the next allowlist sites will take.</summary>
    public async Task<IReadOnlyList<DockerEgress>> SparesAsync()
    {
        Task<DockerEgress?>[] spares;
        lock (_gate)
        {
            spares = [.. _spares];
        }

        return (await Task.WhenAll(spares)).OfType<DockerEgress>().ToList();
    }

    /// <summary>Completes when every removal started so far has ended.</summary>
    public async Task SettledAsync(CancellationToken cancellationToken)
    {
        Task[] pending;
        lock (_gate)
        {
            pending = [.. _removals];
        }

        await Task.WhenAll(pending).WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        Task<DockerEgress?>[] spares;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            spares = [.. _spares];
            _spares.Clear();
        }

        await _stopping.CancelAsync();
        foreach (var spare in spares)
        {
            if (await spare is { } made)
            {
                Retire(made);
            }
        }

        await SettledAsync(CancellationToken.None);
        _stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "egress gateway {Id} made ahead of its run could not be used: {Problem}")]
    private partial void LogSpareFailed(string id, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "egress gateway {Id} (network {Network}) was not fully removed: {Problem}; the next server start removes it")]
    private partial void LogRemovalFailed(string id, string network, string problem);
}
