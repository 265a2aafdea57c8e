using System.Net;
using Docker.DotNet;
using Microsoft.Extensions.Logging;

namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// The Docker backend: one engine (a local socket, a remote or TLS endpoint). A facade over one small class per
/// resource (containers, images, networks, archives, snapshots, exec: one call and at most one log line per method,
/// after testcontainers-dotnet's Docker*Operations); what a run sees of it is <see cref="ITaskBackend"/>.
/// </summary>
public sealed partial class DockerBackend : ITaskBackend, IDisposable
{
    private readonly DockerClient _client;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _probeGate = new(1, 1);
    private readonly DockerImages _images;
    private Task<string?>? _exposure;
    private bool? _sharesHostFiles;

    /// <param name="extraLabels">Labels every container, network and image created here carries besides the runner's own (see <see cref="ResourceLabels"/>).</param>
    public DockerBackend(ILogger logger, EngineConnection connection, IReadOnlyDictionary<string, string>? extraLabels = null)
    {
        _logger = logger;
        Connection = connection;
        _client = connection.CreateClient();
        var labels = new ResourceLabels(extraLabels);
        Containers = new DockerContainers(_client, logger, labels);
        Networks = new DockerNetworks(_client, logger, labels);
        Archives = new DockerArchives(_client, logger);
        Snapshots = new DockerSnapshots(_client, logger, labels);
        Exec = new DockerExec(_client, logger);
        _images = new DockerImages(_client, logger, labels);
        Gateways = new DockerGateways(this, logger);
    }

    public EngineConnection Connection { get; }

    public string Name => "docker";

    public BackendCapabilities Capabilities { get; } = new(Snapshots: true, Exec: true, Runtimes: true);

    public IBoxImages Images => _images;

    internal DockerContainers Containers { get; }

    internal DockerNetworks Networks { get; }

    internal DockerArchives Archives { get; }

    internal DockerSnapshots Snapshots { get; }

    internal DockerExec Exec { get; }

    /// <summary>The egress gateways of allowlist sites, made ahead of need (see <see cref="SpareGateways"/>).</summary>
    internal DockerGateways Gateways { get; }

    /// <summary>
    /// How many egress gateways (network, proxy waiting for its run, one holder) this backend keeps made ahead of the
    /// next allowlist site: 1 by default, 0 to make each with its site. Each is handed to one run only.
    /// </summary>
    public int SpareGateways
    {
        get => Gateways.Capacity;
        set => Gateways.Capacity = value;
    }

    public async Task<BackendFacts> DescribeAsync(CancellationToken cancellationToken)
    {
        var (version, api) = await PingAsync(cancellationToken);
        return new BackendFacts(version, api, await RuntimesAsync(cancellationToken));
    }

    /// <summary>The engine's version and API version; throws, naming the endpoint and the fix, when it does not answer.</summary>
    public async Task<(string Version, string ApiVersion)> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            var version = await _client.System.GetVersionAsync(cancellationToken);
            return (version.Version, version.APIVersion);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException(
                $"cannot reach the Docker engine at {Connection}: {DockerErrors.Innermost(e)}; check DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH for TLS)", e);
        }
    }

    /// <summary>The OCI runtimes the engine can start containers with (<c>docker info</c>'s Runtimes), and its default.</summary>
    public async Task<EngineRuntimes> RuntimesAsync(CancellationToken cancellationToken)
    {
        try
        {
            var info = await _client.System.GetSystemInfoAsync(cancellationToken);
            var available = (info.Runtimes ?? new Dictionary<string, global::Docker.DotNet.Models.RuntimeWithStatus>())
                .ToDictionary(kv => kv.Key, kv => new EngineRuntime(kv.Key, kv.Value?.Path, kv.Value?.Args?.ToList() ?? []), StringComparer.Ordinal);
            return new EngineRuntimes(string.IsNullOrEmpty(info.DefaultRuntime) ? "runc" : info.DefaultRuntime, available)
            {
                HostKernel = string.IsNullOrEmpty(info.KernelVersion) ? null : info.KernelVersion,
            };
        }
        catch (DockerApiException e)
        {
            throw DockerErrors.Failure("reading the engine's runtimes", e);
        }
    }

    public async Task<string?> ExposedApiAsync(CancellationToken cancellationToken)
    {
        // Asked once per engine: the endpoint does not change under a process.
        var probe = _exposure;
        if (probe is null || probe.IsFaulted || probe.IsCanceled)
        {
            probe = _exposure = ProbeExposureAsync();
        }

        return await probe.WaitAsync(cancellationToken);
    }

    private async Task<string?> ProbeExposureAsync()
    {
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var gateway = Connection.Endpoint.Scheme == "unix" ? await Networks.BridgeGatewayAsync(budget.Token) : null;
        return await EngineExposure.ProbeAsync(Connection, gateway, budget.Token);
    }

    public async Task<bool> SharesHostFilesAsync(string image, CancellationToken cancellationToken)
    {
        if (_sharesHostFiles is { } known)
        {
            return known;
        }

        await _probeGate.WaitAsync(cancellationToken);
        try
        {
            _sharesHostFiles ??= await ProbeHostFilesAsync(image, cancellationToken);
            LogTransportProbe(Connection.ToString(), _sharesHostFiles.Value);
            return _sharesHostFiles.Value;
        }
        finally
        {
            _probeGate.Release();
        }
    }

    /// <summary>
    /// A container (created, never started) bind-mounting a fresh folder of this machine that holds one random file:
    /// the engine sees this machine's files only if it can read that file back through the mount. A remote engine
    /// either refuses the mount (no such folder there) or finds the folder without the file.
    /// </summary>
    private async Task<bool> ProbeHostFilesAsync(string image, CancellationToken cancellationToken)
    {
        var folder = Directory.CreateTempSubdirectory("sandbox-runner-probe-");
        string? id = null;
        try
        {
            var token = Guid.NewGuid().ToString("N");
            await File.WriteAllTextAsync(Path.Combine(folder.FullName, token), token, cancellationToken);
            try
            {
                // Not cancelled mid-create (a container whose id never came back would stay); removed in the finally.
                using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                id = await Containers.CreateAsync(new ContainerSpec
                {
                    Image = image,
                    Command = ["true"],
                    Entrypoint = [],
                    User = "65534:65534",
                    WorkingDirectory = "/",
                    Environment = new Dictionary<string, string>(),
                    Mounts = [new BindMount(folder.FullName, "/sandbox-runner-probe", ReadOnly: true)],
                    Labels = new Dictionary<string, string> { [Labels.Role] = Labels.HostFilesProbeRole },
                    Limits = new ResourceLimits(64 * 1024 * 1024, 0.1, 16, 1024 * 1024),
                }, budget.Token);
            }
            catch (InvalidOperationException e) when (e.InnerException is DockerApiException { StatusCode: HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.InternalServerError })
            {
                // "invalid mount config: bind source path does not exist": the engine has its own filesystem.
                return false;
            }

            var seen = await Containers.ReadFileAsync(id, "/sandbox-runner-probe/" + token, 1024, cancellationToken);
            return seen is not null && System.Text.Encoding.UTF8.GetString(seen) == token;
        }
        finally
        {
            if (id is not null)
            {
                await Containers.RemoveAsync(id, CancellationToken.None);
            }

            folder.Delete(recursive: true);
        }
    }

    public async Task<IRunSite> OpenRunSiteAsync(RunSiteSpec spec, CancellationToken cancellationToken)
    {
        var site = new DockerRunSite(this, spec);
        try
        {
            await site.OpenAsync(cancellationToken);
            return site;
        }
        catch
        {
            await site.DisposeAsync();
            throw;
        }
    }

    /// <summary>Completes when every removal the backend finishes after a site's close is done (tests and the benchmark wait for it).</summary>
    internal Task SettledAsync(CancellationToken cancellationToken) => Gateways.SettledAsync(cancellationToken);

    public async Task<int> RemoveRunAsync(BoxScope scope, string runId, CancellationToken cancellationToken)
    {
        var selector = LabelSelector.Of(scope, runId);
        var removed = 0;
        var failed = new List<string>();
        foreach (var container in await Containers.ListAsync(selector, cancellationToken))
        {
            try
            {
                await Containers.RemoveAsync(container.ID, cancellationToken);
                removed++;
            }
            catch (DockerApiException e)
            {
                // One that will not go does not keep the rest (or the run's teardown after this) from going; said below.
                failed.Add($"{DockerErrors.Short(container.ID)}: {DockerErrors.Failure("removing the container", e).Message}");
            }
        }

        foreach (var network in await Networks.ListAsync(selector, cancellationToken))
        {
            await Networks.RemoveAsync(network.Name, cancellationToken);
        }

        // A gateway made ahead of its run carries no run label: the backend knows which run it went to.
        foreach (var gateway in Gateways.Of(scope, runId))
        {
            Gateways.Retire(gateway);
        }

        return failed.Count == 0
            ? removed
            : throw new InvalidOperationException($"{failed.Count} container(s) of run {runId} were not removed ({string.Join("; ", failed)}); the next server start removes them");
    }

    public Task<int> RemoveOrphansAsync(BoxScope scope, CancellationToken cancellationToken) =>
        RemoveOrphansAsync(LabelSelector.Of(scope, null), cancellationToken);

    /// <summary>
    /// Removes the containers and networks <paramref name="scope"/> matches (every label of it, not only the
    /// repository's) whose owner process is gone: a host that labels its own resources (the Testcontainers module)
    /// sweeps only those, never a killed server's that its restart recovers.
    /// </summary>
    public async Task<int> RemoveOrphansAsync(LabelSelector scope, CancellationToken cancellationToken)
    {
        var selector = scope.And(Labels.Owner);
        var removed = 0;
        foreach (var container in await Containers.ListAsync(selector, cancellationToken))
        {
            if (Labels.HasGoneOwner(container.Labels))
            {
                await Containers.RemoveAsync(container.ID, cancellationToken);
                removed++;
            }
        }

        foreach (var network in await Networks.ListAsync(selector, cancellationToken))
        {
            if (Labels.HasGoneOwner(network.Labels))
            {
                await Networks.RemoveAsync(network.Name, cancellationToken);
                removed++;
            }
        }

        // Probes carry no repository or run, so no scope selects them; a dead owner's are garbage to every sweep (and
        // not counted: they are no scope's).
        foreach (var container in await Containers.ListAsync(LabelSelector.Of(Labels.Role).And(Labels.Owner), cancellationToken))
        {
            if (container.Labels is { } labels && Labels.IsOrphanedProbe(labels.AsReadOnly()))
            {
                await Containers.RemoveAsync(container.ID, cancellationToken);
            }
        }

        // Gateways made ahead of their run carry no repository (a sweep of one repository's must still find them),
        // and no run's recovery ever needs one: every dead process's gateway goes, spare or handed over.
        if (scope.Labels.ContainsKey(Labels.Scope))
        {
            removed += await RemoveOrphansAsync(LabelSelector.Of(DockerEgress.GatewayLabel), cancellationToken);
        }

        if (removed > 0)
        {
            LogOrphansRemoved(removed);
        }

        return removed;
    }

    public async Task<IReadOnlyList<BoxRef>> FindBoxesAsync(BoxScope scope, string? runId, CancellationToken cancellationToken) =>
        (await Containers.ListAsync(LabelSelector.Of(scope, runId), cancellationToken))
        .Select(c =>
        {
            var labels = new Dictionary<string, string>(c.Labels ?? new Dictionary<string, string>());
            return new BoxRef(c.ID, labels.GetValueOrDefault(Labels.Run), labels.GetValueOrDefault(Labels.Task), labels.GetValueOrDefault(Labels.Role), c.State == "running")
            {
                Labels = labels,
            };
        })
        .ToList();

    public void Dispose()
    {
        // Waits for the gateways' removal (at most its budget): a process that ends after its last reply leaves nothing.
        Gateways.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _client.Dispose();
        _probeGate.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await Gateways.DisposeAsync();
        Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Docker engine {Endpoint}: sees this machine's files: {Shares}")]
    private partial void LogTransportProbe(string endpoint, bool shares);

    [LoggerMessage(Level = LogLevel.Warning, Message = "container {Id} was not removed ({Reason}); the run's teardown and the next sweep remove it by its labels")]
    internal partial void LogBoxLeft(string id, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "removed {Count} container(s) and network(s) left by a server process that is gone")]
    private partial void LogOrphansRemoved(int count);
}
