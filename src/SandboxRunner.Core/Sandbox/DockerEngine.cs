using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using ICSharpCode.SharpZipLib.Tar;
using Microsoft.Extensions.Logging;

namespace SandboxRunner.Sandbox;

/// <summary>
/// <see cref="IContainerEngine"/> over the Docker Engine API (Docker.DotNet.Enhanced). Requests are
/// unversioned, so the same code talks to a 20.10 engine (API 1.41) and to current ones.
/// </summary>
public sealed partial class DockerEngine : IContainerEngine, IDisposable
{
    private readonly DockerClient _client;
    private readonly ILogger<DockerEngine> _logger;

    public DockerEngine(ILogger<DockerEngine> logger, Uri? endpoint = null)
        : this(logger, endpoint is null ? EngineConnection.FromProcess() : new EngineConnection(endpoint))
    {
    }

    public DockerEngine(ILogger<DockerEngine> logger, EngineConnection connection)
    {
        _logger = logger;
        Connection = connection;
        _client = connection.CreateClient();
    }

    public EngineConnection Connection { get; }

    /// <summary>
    /// Labels an embedding host adds to every container, network and image this engine creates (a Testcontainers
    /// session's, so its resource reaper finds them); the runner's own labels win over them.
    /// </summary>
    public IReadOnlyDictionary<string, string> ExtraLabels { get; init; } = new Dictionary<string, string>();

    public Uri Endpoint => Connection.Endpoint;

    public static Uri DefaultEndpoint() => EngineConnection.FromProcess().Endpoint;

    /// <summary>The engine's version and API version; throws, naming the endpoint and the cause, when the engine does not answer.</summary>
    public async Task<(string Version, string ApiVersion)> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            var version = await _client.System.GetVersionAsync(cancellationToken);
            return (version.Version, version.APIVersion);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new InvalidOperationException($"cannot reach the Docker engine at {Connection}: {Innermost(e)}; check DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH for TLS)", e);
        }
    }

    private Dictionary<string, string> WithExtraLabels(IReadOnlyDictionary<string, string> labels)
    {
        var merged = new Dictionary<string, string>(ExtraLabels);
        foreach (var (key, value) in labels)
        {
            merged[key] = value;
        }

        return merged;
    }

    /// <summary>The root cause's message (connection refused, a certificate rejected...), which the outer exceptions hide.</summary>
    private static string Innermost(Exception e)
    {
        while (e.InnerException is { } inner)
        {
            e = inner;
        }

        return e.Message.TrimEnd('.');
    }

    public async Task<bool> ImageExistsAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            await _client.Images.InspectImageAsync(image, cancellationToken);
            return true;
        }
        catch (DockerImageNotFoundException)
        {
            return false;
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public async Task BuildImageAsync(ImageRecipe recipe, CancellationToken cancellationToken)
    {
        var log = new List<string>();
        string? error = null;
        using var context = recipe.ContextTar();
        var progress = new Progress<JSONMessage>(m =>
        {
            lock (log)
            {
                if (!string.IsNullOrWhiteSpace(m.Stream))
                {
                    log.Add(m.Stream.TrimEnd());
                }

                if (m.Error is { } e && !string.IsNullOrEmpty(e.Message))
                {
                    error = e.Message;
                }
            }
        });

        LogBuilding(recipe.Tag);
        try
        {
            await _client.Images.BuildImageFromDockerfileAsync(
                new ImageBuildParameters
                {
                    Tags = [recipe.Tag],
                    Dockerfile = recipe.DockerfilePath,
                    BuildArgs = new Dictionary<string, string>(recipe.BuildArgs),
                    Labels = WithExtraLabels(recipe.Labels),
                    Remove = true,
                    ForceRemove = true,
                },
                context,
                [],
                new Dictionary<string, string>(),
                progress,
                cancellationToken);
        }
        catch (DockerApiException e)
        {
            error ??= e.ResponseBody;
        }

        // Progress reports are posted; give the last ones a moment before judging.
        await Task.Delay(50, cancellationToken);
        if (error is not null || !await ImageExistsAsync(recipe.Tag, cancellationToken))
        {
            string tail;
            lock (log)
            {
                tail = string.Join('\n', log.TakeLast(20));
            }

            throw new ImageBuildException($"building {recipe.Tag} failed: {error ?? "no image was produced"}\n--- last lines of the build log ---\n{tail}");
        }
    }

    public async Task<string> CreateAsync(ContainerSpec spec, CancellationToken cancellationToken)
    {
        var parameters = new CreateContainerParameters
        {
            Image = spec.Image,
            Cmd = spec.Command.ToList(),
            Entrypoint = spec.Entrypoint?.ToList()!,
            User = spec.User,
            WorkingDir = spec.WorkingDirectory,
            Env = spec.Environment.Select(kv => $"{kv.Key}={kv.Value}").ToList(),
            Labels = new Dictionary<string, string>(WithExtraLabels(spec.Labels)) { [Labels.Owner] = Labels.CurrentOwner },
            AttachStdout = true,
            AttachStderr = true,
            AttachStdin = spec.OpenStdin,
            OpenStdin = spec.OpenStdin,
            StdinOnce = spec.OpenStdin,
            HostConfig = new HostConfig
            {
                Mounts = spec.Mounts.Select(m => new Mount
                {
                    Type = "bind",
                    Source = m.Source,
                    Target = m.Target,
                    ReadOnly = m.ReadOnly,
                    BindOptions = new BindOptions { Propagation = "rprivate" },
                }).Concat(spec.Volumes.Select(target => new Mount { Type = "volume", Target = target })).ToList(),
                Tmpfs = new Dictionary<string, string> { ["/tmp"] = $"rw,nosuid,nodev,size={spec.Limits.TmpBytes}" },
                ReadonlyRootfs = spec.ReadOnlyRootFilesystem,
                CapDrop = ["ALL"],
                CapAdd = spec.CapAdd.ToList(),
                ExtraHosts = spec.ExtraHosts.ToList(),
                DNS = spec.Dns.ToList(),
                SecurityOpt = ["no-new-privileges"],
                Init = spec.Init,
                Memory = spec.Limits.MemoryBytes,
                MemorySwap = spec.Limits.MemoryBytes,
                NanoCPUs = (long)(spec.Limits.Cpus * 1_000_000_000),
                PidsLimit = spec.Limits.Pids,
                NetworkMode = spec.NetworkMode,
                AutoRemove = false,
                Runtime = spec.Runtime,
            },
        };

        if (spec.MaxLogBytes is { } logBytes)
        {
            parameters.HostConfig.LogConfig = new LogConfig
            {
                Type = "json-file",
                Config = new Dictionary<string, string> { ["max-size"] = logBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), ["max-file"] = "2" },
            };
        }

        CreateContainerResponse response;
        try
        {
            response = await _client.Containers.CreateContainerAsync(parameters, cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure($"creating a container from {spec.Image}", e);
        }

        LogCreated(response.ID[..12], spec.Image, string.Join(",", spec.Labels.Select(kv => $"{kv.Key}={kv.Value}")));
        return response.ID;
    }

    public async Task StartAsync(string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await _client.Containers.StartContainerAsync(containerId, new ContainerStartParameters(), cancellationToken);
        }
        catch (DockerApiException e)
        {
            throw Failure($"starting container {containerId[..Math.Min(12, containerId.Length)]}", e);
        }
    }

    public async Task StartWithInputAsync(string containerId, ReadOnlyMemory<byte> input, CancellationToken cancellationToken)
    {
        // Attached before the start, as `docker start -ai` does, so nothing written is lost; the input is never logged.
        using var stdin = await _client.Containers.AttachContainerAsync(
            containerId, new ContainerAttachParameters { Stream = true, Stdin = true, Stdout = false, Stderr = false }, cancellationToken);
        await StartAsync(containerId, cancellationToken);
        var bytes = input.ToArray();
        try
        {
            await stdin.WriteAsync(bytes, 0, bytes.Length, cancellationToken);
            stdin.CloseWrite();
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
        }
    }

    /// <summary>What failed and what the engine said, instead of the SDK's bare "An error occurred".</summary>
    private static InvalidOperationException Failure(string what, DockerApiException e)
    {
        var body = e.ResponseBody?.Trim() ?? "";
        if (body.StartsWith('{'))
        {
            try
            {
                using var json = System.Text.Json.JsonDocument.Parse(body);
                if (json.RootElement.TryGetProperty("message", out var m) && m.ValueKind == System.Text.Json.JsonValueKind.String)
                {
                    body = m.GetString() ?? body;
                }
            }
            catch (System.Text.Json.JsonException)
            {
            }
        }

        return new InvalidOperationException($"Docker: {what} failed (HTTP {(int)e.StatusCode}): {(body.Length > 0 ? body : e.Message)}", e);
    }

    public async Task<long> WaitAsync(string containerId, CancellationToken cancellationToken) =>
        (await _client.Containers.WaitContainerAsync(containerId, cancellationToken)).StatusCode;

    public async Task KillAsync(string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await _client.Containers.KillContainerAsync(containerId, new ContainerKillParameters { Signal = "SIGKILL" }, cancellationToken);
            LogKilled(containerId[..12]);
        }
        catch (DockerApiException e) when (e.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Conflict)
        {
            // Already stopped or gone: the goal of a kill is reached.
        }
    }

    public async Task RemoveAsync(string containerId, CancellationToken cancellationToken)
    {
        try
        {
            await _client.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken);
            LogRemoved(containerId[..12]);
        }
        catch (DockerContainerNotFoundException)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    public async Task ReadLogsAsync(string containerId, bool follow, Action<LogStream, ReadOnlySpan<byte>> onChunk, CancellationToken cancellationToken)
    {
        using var stream = await _client.Containers.GetContainerLogsAsync(
            containerId,
            new ContainerLogsParameters { Follow = follow, ShowStdout = true, ShowStderr = true },
            cancellationToken);
        var buffer = new byte[81920];
        while (true)
        {
            var read = await stream.ReadOutputAsync(buffer, 0, buffer.Length, cancellationToken);
            if (read.EOF)
            {
                return;
            }

            var target = read.Target == MultiplexedStream.TargetStream.StandardError ? LogStream.Stderr : LogStream.Stdout;
            onChunk(target, buffer.AsSpan(0, read.Count));
        }
    }

    public async Task<byte[]?> ReadFileAsync(string containerId, string path, long maxBytes, CancellationToken cancellationToken)
    {
        ContainerArchiveResponse archive;
        try
        {
            archive = await _client.Containers.GetArchiveFromContainerAsync(containerId, new ContainerPathStatParameters { Path = path }, false, cancellationToken);
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        // The response is a chunked HTTP stream whose synchronous Read is not supported, so the tar is
        // read asynchronously into a bounded buffer first: one header, the file, its padding, and the
        // end-of-archive blocks. Anything longer holds more than one file or a file over the limit.
        var limit = checked(maxBytes + TarSlack);
        if (archive.Stream is not { } stream)
        {
            return null;
        }

        await using var owned = stream;
        var buffered = await ReadBoundedAsync(stream, limit, cancellationToken);
        if (buffered is null)
        {
            return null;
        }

        using var tar = new TarInputStream(new MemoryStream(buffered, writable: false), System.Text.Encoding.UTF8);
        var entry = tar.GetNextEntry();
        if (entry is null || entry.TarHeader.TypeFlag is not (TarHeader.LF_NORMAL or TarHeader.LF_OLDNORM) || entry.Size > maxBytes)
        {
            return null;
        }

        using var content = new MemoryStream((int)entry.Size);
        tar.CopyEntryContents(content);
        return content.ToArray();
    }

    /// <summary>Headers (PAX ones included), padding and a 10 KiB record's worth of end blocks.</summary>
    private const int TarSlack = 16 * 1024;

    /// <summary>The whole stream, or null as soon as it passes <paramref name="limit"/> bytes.</summary>
    private static async Task<byte[]?> ReadBoundedAsync(Stream stream, long limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while (true)
        {
            var read = await stream.ReadAsync(chunk, cancellationToken);
            if (read == 0)
            {
                return buffer.ToArray();
            }

            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }
    }

    public async Task<string?> AddressAsync(string containerId, string network, CancellationToken cancellationToken)
    {
        var inspected = await _client.Containers.InspectContainerAsync(containerId, cancellationToken);
        return inspected.NetworkSettings?.Networks is { } networks && networks.TryGetValue(network, out var endpoint) && !string.IsNullOrEmpty(endpoint.IPAddress)
            ? endpoint.IPAddress
            : null;
    }

    public async Task CreateNetworkAsync(string name, bool isInternal, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        await _client.Networks.CreateNetworkAsync(
            new NetworksCreateParameters
            {
                Name = name, Driver = "bridge", Internal = isInternal, Labels = new Dictionary<string, string>(WithExtraLabels(labels)) { [Labels.Owner] = Labels.CurrentOwner },
            },
            cancellationToken);
        LogNetworkCreated(name, isInternal);
    }

    public async Task<string?> SubnetAsync(string name, CancellationToken cancellationToken)
    {
        var network = await _client.Networks.InspectNetworkAsync(name, cancellationToken);
        return network.IPAM?.Config?.Select(c => c.Subnet).FirstOrDefault(s => !string.IsNullOrEmpty(s) && !s.Contains(':', StringComparison.Ordinal));
    }

    public async Task ConnectAsync(string network, string containerId, string alias, CancellationToken cancellationToken) =>
        await _client.Networks.ConnectNetworkAsync(
            network,
            new NetworkConnectParameters { Container = containerId, EndpointConfig = new EndpointSettings { Aliases = [alias] } },
            cancellationToken);

    public async Task RemoveNetworkAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await _client.Networks.DeleteNetworkAsync(name, cancellationToken);
        }
        catch (DockerNetworkNotFoundException)
        {
        }
        catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    public async Task<int> RemoveOrphansAsync(LabelSelector scope, CancellationToken cancellationToken)
    {
        var filter = LabelFilter(scope.And(Labels.Owner));
        var removed = 0;
        foreach (var container in await _client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, cancellationToken))
        {
            if (container.Labels.TryGetValue(Labels.Owner, out var owner) && Labels.IsOrphanedBy(owner))
            {
                await RemoveAsync(container.ID, cancellationToken);
                removed++;
            }
        }

        foreach (var network in await _client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filter }, cancellationToken))
        {
            if (network.Labels.TryGetValue(Labels.Owner, out var owner) && Labels.IsOrphanedBy(owner))
            {
                await RemoveNetworkAsync(network.Name, cancellationToken);
                removed++;
            }
        }

        if (removed > 0)
        {
            LogOrphansRemoved(removed);
        }

        return removed;
    }

    public async Task<IReadOnlyList<string>> ListNetworksAsync(LabelSelector selector, CancellationToken cancellationToken)
    {
        var networks = await _client.Networks.ListNetworksAsync(
            new NetworksListParameters { Filters = LabelFilter(selector) },
            cancellationToken);
        return networks.Select(n => n.Name).ToList();
    }

    public async Task<IReadOnlyList<string>> ListContainersAsync(LabelSelector selector, CancellationToken cancellationToken)
    {
        var containers = await _client.Containers.ListContainersAsync(
            new ContainersListParameters { All = true, Filters = LabelFilter(selector) },
            cancellationToken);
        return containers.Select(c => c.ID).ToList();
    }

    public void Dispose()
    {
        _client.Dispose();
        _probeGate.Dispose();
    }

    /// <summary>The engine's list filter: every label (<c>name</c> or <c>name=value</c>) must match.</summary>
    private static Dictionary<string, IDictionary<string, bool>> LabelFilter(LabelSelector selector) =>
        new() { ["label"] = selector.Labels.ToDictionary(kv => kv.Value is null ? kv.Key : $"{kv.Key}={kv.Value}", _ => true) };

    [LoggerMessage(Level = LogLevel.Debug, Message = "container {Id} created from {Image} ({Labels})")]
    private partial void LogCreated(string id, string image, string labels);

    [LoggerMessage(Level = LogLevel.Warning, Message = "removed {Count} container(s) and network(s) left by a server process that is gone")]
    private partial void LogOrphansRemoved(int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "building image {Tag}")]
    private partial void LogBuilding(string tag);

    [LoggerMessage(Level = LogLevel.Debug, Message = "network {Name} created (internal: {Internal})")]
    private partial void LogNetworkCreated(string name, bool @internal);

    [LoggerMessage(Level = LogLevel.Information, Message = "container {Id} killed")]
    private partial void LogKilled(string id);

    [LoggerMessage(Level = LogLevel.Debug, Message = "container {Id} removed")]
    private partial void LogRemoved(string id);
}
