using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Platform;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// A DNS server in a container on the default bridge that answers every query NXDOMAIN and prints the name
/// asked for, so a test can see which names a container pointed at it tried to resolve.
/// </summary>
public sealed class DnsRecorder : IAsyncDisposable
{
    // Reads the question's labels, prints "Q name", answers with the same id and question, rcode 3.
    private const string Server = """
        use IO::Socket::INET; $| = 1;
        my $s = IO::Socket::INET->new(LocalPort => 53, Proto => "udp") or die "bind: $!";
        print "dns ready\n";
        while (1) {
          my $p; $s->recv($p, 4096) or next; next if length($p) < 13;
          my ($i, @l) = (12);
          while ($i < length($p) && (my $n = ord(substr($p, $i, 1)))) { push @l, substr($p, $i + 1, $n); $i += $n + 1; }
          print "Q ", join(".", @l), "\n";
          $s->send(substr($p, 0, 2) . pack("n", 0x8183) . pack("n4", 1, 0, 0, 0) . substr($p, 12, $i + 5 - 12));
        }
        """;

    private readonly IContainerEngine _engine;
    private readonly string _id;

    private DnsRecorder(IContainerEngine engine, string id, string address)
    {
        _engine = engine;
        _id = id;
        Address = address;
    }

    public string Address { get; }

    internal static async Task<DnsRecorder> StartAsync(IContainerEngine engine, string runId)
    {
        var id = await engine.CreateAsync(
            new ContainerSpec
            {
                Image = DockerFixture.FakeCodexImage,
                Entrypoint = ["perl", "-e", Server],
                Command = [],
                User = "0:0",
                WorkingDirectory = "/",
                Environment = new Dictionary<string, string>(),
                Mounts = [],
                Labels = new Dictionary<string, string> { [Labels.Run] = runId, [Labels.Role] = "test-dns" },
                Limits = new ResourceLimits(MemoryBytes: 64L * 1024 * 1024, Cpus: 0.2, Pids: 16, TmpBytes: 1024 * 1024),
                CapAdd = ["NET_BIND_SERVICE"],
                NetworkMode = "bridge",
            },
            CancellationToken.None);
        var recorder = new DnsRecorder(engine, id, "");
        try
        {
            await engine.StartAsync(id, CancellationToken.None);
            await Poll.UntilAsync(async _ => (await recorder.OutputAsync()).Contains("dns ready", StringComparison.Ordinal), TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(5), CancellationToken.None);

            var address = await engine.AddressAsync(id, "bridge", CancellationToken.None)
                ?? throw new InvalidOperationException("the DNS recorder got no address on the bridge");
            return new DnsRecorder(engine, id, address);
        }
        catch
        {
            await engine.RemoveAsync(id, CancellationToken.None);
            throw;
        }
    }

    /// <summary>The names asked for so far, in order.</summary>
    public async Task<IReadOnlyList<string>> QueriesAsync() =>
        (await OutputAsync()).Split('\n').Where(l => l.StartsWith("Q ", StringComparison.Ordinal)).Select(l => l[2..].Trim()).ToList();

    private async Task<string> OutputAsync()
    {
        var output = new StringBuilder();
        await _engine.ReadLogsAsync(_id, follow: false, (_, bytes) => output.Append(Encoding.UTF8.GetString(bytes)), CancellationToken.None);
        return output.ToString();
    }

    public async ValueTask DisposeAsync() => await _engine.RemoveAsync(_id, CancellationToken.None);
}
