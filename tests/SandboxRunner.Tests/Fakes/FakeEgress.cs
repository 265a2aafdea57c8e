using System.Diagnostics;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Tests.Fakes;

/// <summary>
/// An allowlist site's egress in the fake engine, laid out as the Docker backend's is (an internal network, a proxy
/// container that takes its secrets on standard input, one namespace holder per box), so run logic sees the same
/// containers, labels and teardown. What the proxy lets through is the contract tests' business against Docker.
/// </summary>
internal sealed class FakeEgress(FakeEngine engine, RunSiteSpec site, EgressSpec egress)
{
    private const string ProxyAlias = "sandbox-proxy";
    private string? _proxyId;

    public string NetworkName { get; } = $"sandbox-runner-{site.Scope.Repository ?? "any"}-{site.RunId ?? "none"}";

    public EgressEndpoints Endpoints => new($"http://{ProxyAlias}:8080", $"http://{ProxyAlias}:3128", $"localhost,127.0.0.1,{ProxyAlias}", egress.Allowlist);

    private Dictionary<string, string> LabelsFor(string role, string? taskId = null)
    {
        var labels = Labels.For(site.Scope, site.RunId, new BoxIdentity(taskId));
        labels[Labels.Role] = role;
        return labels;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await engine.CreateNetworkAsync(NetworkName, isInternal: true, LabelsFor(DockerEgress.ProxyRole), cancellationToken);
        _proxyId = await engine.CreateAsync(Spec(LabelsFor(DockerEgress.ProxyRole), "bridge") with { OpenStdin = true }, cancellationToken);
        await engine.ConnectAsync(NetworkName, _proxyId, ProxyAlias, cancellationToken);
        await engine.StartWithInputAsync(_proxyId, ProxyProtocol.Secrets(egress), cancellationToken);
    }

    public async Task<TaskNetwork> CreateTaskNetworkAsync(string? taskId, CancellationToken cancellationToken)
    {
        var id = await engine.CreateAsync(Spec(LabelsFor(DockerEgress.HolderRole, taskId), NetworkName), CancellationToken.None);
        await engine.StartAsync(id, cancellationToken);
        return new TaskNetwork(id, await engine.AddressAsync(id, NetworkName, cancellationToken) ?? throw new InvalidOperationException($"task {taskId} got no address on {NetworkName}"));
    }

    public async Task<IReadOnlyList<string>> RefusedHostsAsync(TaskNetwork network, DateTimeOffset since, CancellationToken cancellationToken)
    {
        var log = _proxyId is null ? null : await engine.ReadFileAsync(_proxyId, ProxyProtocol.AccessLog, 64L * 1024 * 1024, cancellationToken);
        return log is null ? [] : ProxyProtocol.ParseRefused(System.Text.Encoding.UTF8.GetString(log), network.Address, since);
    }

    /// <summary>The proxy, the holders no box released, and the network: what this site made, by role.</summary>
    public async Task RemoveAsync(CancellationToken cancellationToken)
    {
        foreach (var id in await engine.ListContainersAsync(LabelSelector.Of(site.Scope, site.RunId), cancellationToken))
        {
            var role = engine.LiveContainers.FirstOrDefault(c => c.Id == id)?.Labels.GetValueOrDefault(Labels.Role);
            if (role is DockerEgress.ProxyRole or DockerEgress.HolderRole)
            {
                await engine.RemoveAsync(id, cancellationToken);
            }
        }

        await engine.RemoveNetworkAsync(NetworkName, cancellationToken);
    }

    private ContainerSpec Spec(IReadOnlyDictionary<string, string> labels, string networkMode) => new()
    {
        Image = egress.ProxyImage,
        Command = [],
        User = "0:0",
        WorkingDirectory = "/",
        Environment = new Dictionary<string, string>(),
        Labels = labels,
        Limits = new ResourceLimits(64L * 1024 * 1024, 0.1, 16, 1024 * 1024),
        NetworkMode = networkMode,
    };
}

/// <summary>A fake box's run: start, follow its output, wait, and kill at the deadline, a limit or cancellation, as the Docker box does.</summary>
internal static class FakeBoxRun
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(30);

    public static async Task<BoxExit> RunAsync(
        FakeEngine engine, string id, TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await engine.StartAsync(id, cancellationToken);
        onStarted?.Invoke();
        var logs = engine.ReadLogsAsync(id, follow: true, onOutput, stop.Token);
        var wait = engine.WaitAsync(id, stop.Token);
        var timedOut = false;
        var stopped = false;
        try
        {
            using var deadlineOrStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limitStop);
            var deadline = Task.Delay(timeout, deadlineOrStop.Token);
            if (await Task.WhenAny(wait, deadline) == deadline)
            {
                cancellationToken.ThrowIfCancellationRequested();
                stopped = limitStop.IsCancellationRequested;
                timedOut = !stopped;
                await engine.KillAsync(id, CancellationToken.None);
            }

            var exitCode = await wait.WaitAsync(Budget, CancellationToken.None);
            var elapsed = Stopwatch.GetElapsedTime(started);
            await logs.WaitAsync(Budget, CancellationToken.None);
            return new BoxExit(timedOut || stopped ? null : exitCode, timedOut, elapsed, stopped);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await engine.KillAsync(id, CancellationToken.None);
            throw;
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(logs, wait).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
}
