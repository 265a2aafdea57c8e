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

/// <summary>A fake box's run: the run every backend's box makes (<see cref="BoxRun"/>), over the fake engine's container.</summary>
internal static class FakeBoxRun
{
    public static Task<BoxExit> RunAsync(
        FakeEngine engine, string id, TimeSpan timeout, Action<LogStream, ReadOnlySpan<byte>> onOutput, Action? onStarted, CancellationToken limitStop, CancellationToken cancellationToken) =>
        BoxRun.RunAsync(
            new BoxCalls(
                ct => engine.StartAsync(id, ct),
                (follow, onChunk, ct) => engine.ReadLogsAsync(id, follow, onChunk, ct),
                ct => engine.WaitAsync(id, ct),
                ct => engine.KillAsync(id, ct)),
            timeout, onOutput, onStarted, limitStop, cancellationToken);
}
