using Docker.DotNet;

namespace SandboxRunner.Sandbox;

/// <summary>The engine's OCI runtimes, from its system info.</summary>
public sealed partial class DockerEngine
{
    public async Task<EngineRuntimes> RuntimesAsync(CancellationToken cancellationToken)
    {
        try
        {
            var info = await _client.System.GetSystemInfoAsync(cancellationToken);
            var available = (info.Runtimes ?? new Dictionary<string, Docker.DotNet.Models.RuntimeWithStatus>())
                .ToDictionary(kv => kv.Key, kv => new EngineRuntime(kv.Key, kv.Value?.Path, kv.Value?.Args?.ToList() ?? []), StringComparer.Ordinal);
            return new EngineRuntimes(string.IsNullOrEmpty(info.DefaultRuntime) ? "runc" : info.DefaultRuntime, available)
            {
                HostKernel = string.IsNullOrEmpty(info.KernelVersion) ? null : info.KernelVersion,
            };
        }
        catch (DockerApiException e)
        {
            throw Failure("reading the engine's runtimes", e);
        }
    }
}
