using System.Collections.Concurrent;
using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.Tests.Fakes;

namespace SandboxRunner.Tests.Contracts;

/// <summary>
/// The backend contract (the same body the Docker backend passes) against <see cref="FakeBackend"/>: what makes
/// run logic tested against the fake hold against a real engine. The fake plays each box's script step by step.
/// </summary>
public sealed class FakeBackendContractTests : BackendContract
{
    private const string ImageName = "contract/sh:1";
    private const string ProxyImage = "contract/egress-proxy:1";
    private readonly ConcurrentDictionary<string, BoxScript> _scripts = new(StringComparer.Ordinal);
    private readonly FakeBackend _backend;

    public FakeBackendContractTests()
    {
        var engine = new FakeEngine(ImageName);
        engine.Images[ProxyImage] = true;
        engine.Agent = (container, killed) => container.Spec.Image == ProxyImage
            ? ServeAsync(container, container.Spec.OpenStdin ? "sandbox-proxy ready" : "netns ready", killed)
            : PlayAsync(container, container.Spec.Command, (stream, bytes) => container.Emit(stream, bytes), killed);
        engine.Exec = async (container, command, output, killed) =>
            await PlayAsync(container, command, (stream, bytes) => output(stream, Encoding.UTF8.GetString(bytes)), killed);
        _backend = new FakeBackend(engine);
    }

    protected override ITaskBackend Backend => _backend;

    protected override string Image => ImageName;

    protected override Task<string> ProxyImageAsync() => Task.FromResult(ProxyImage);

    protected override async Task<string> LeaveBoxAsync(IReadOnlyDictionary<string, string> labels)
    {
        // The fake stamps its Owner as Docker stamps the creating process's; play the process the labels name.
        var engine = _backend.Engine;
        var own = engine.Owner;
        engine.Owner = labels[Labels.Owner];
        try
        {
            return await engine.CreateAsync(
                new SandboxRunner.Boxes.Docker.ContainerSpec
                {
                    Image = ImageName, Command = ["true"], User = "65534:65534", WorkingDirectory = "/", Environment = new Dictionary<string, string>(),
                    Labels = labels.Where(kv => kv.Key != Labels.Owner).ToDictionary(), Limits = new ResourceLimits(1024 * 1024, 0.1, 16, 1024 * 1024),
                },
                CancellationToken.None);
        }
        finally
        {
            engine.Owner = own;
        }
    }

    protected override Task<bool> HoldsAsync(string id) => Task.FromResult(_backend.Engine.LiveContainers.Any(c => c.Id == id));

    protected override Task RemoveLeftAsync(string id) => _backend.Engine.RemoveAsync(id, CancellationToken.None);

    protected override void Teach(BoxScript script) => _scripts[script.Key] = script;

    /// <summary>Under a read-only root only the workspace's folders and <c>/tmp</c> take writes, as in a container.</summary>
    private static bool Writable(FakeContainer container, string path) =>
        container.Spec.Mounts.Where(m => !m.ReadOnly).Select(m => m.Target).Concat(container.Spec.Volumes).Append("/tmp")
            .Any(folder => path.StartsWith(folder.TrimEnd('/') + "/", StringComparison.Ordinal));

    /// <summary>The proxy and a box's namespace holder: say they are ready, as the real ones do, and stay until killed.</summary>
    private static async Task<long> ServeAsync(FakeContainer container, string ready, CancellationToken killed)
    {
        container.Stdout(ready);
        await Task.Delay(Timeout.Infinite, killed);
        return 0;
    }

    private async Task<long> PlayAsync(FakeContainer container, IReadOnlyList<string> command, Action<LogStream, byte[]> emit, CancellationToken killed)
    {
        var script = _scripts.TryGetValue(string.Join('\n', command), out var known) ? known : throw new InvalidOperationException($"no script taught for {string.Join(' ', command)}");
        foreach (var step in script.Steps)
        {
            switch (step)
            {
                case BoxStep.Out o:
                    emit(LogStream.Stdout, Encoding.UTF8.GetBytes(o.Text + "\n"));
                    break;
                case BoxStep.Err e:
                    emit(LogStream.Stderr, Encoding.UTF8.GetBytes(e.Text + "\n"));
                    break;
                case BoxStep.Write w when container.Spec.ReadOnlyRootFilesystem && !Writable(container, w.Path):
                    emit(LogStream.Stderr, Encoding.UTF8.GetBytes($"sh: {w.Path}: Read-only file system\n"));
                    break;
                case BoxStep.Write w:
                    container.Files[w.Path] = Encoding.UTF8.GetBytes(w.Text);
                    break;
                case BoxStep.Cat c when container.Files.TryGetValue(c.Path, out var bytes):
                    emit(LogStream.Stdout, bytes);
                    break;
                case BoxStep.Cat c:
                    emit(LogStream.Stderr, Encoding.UTF8.GetBytes($"cat: {c.Path}: No such file or directory\n"));
                    return 1;
                case BoxStep.Hang:
                    await Task.Delay(Timeout.Infinite, killed);
                    break;
                case BoxStep.Exit x:
                    return x.Code;
            }
        }

        return 0;
    }
}
