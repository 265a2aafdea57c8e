using System.Diagnostics;
using System.Globalization;
using CsCheck;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Tests.Properties;

/// <summary>Reading the hosts the egress proxy refused out of squid's access log, which the agent's requests fill.</summary>
public sealed class RefusedHostsProperties
{
    private const string Client = "172.18.0.3";
    private static readonly DateTimeOffset Since = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    private static string LogLine(double time, string client, bool denied, bool connect, string host) =>
        string.Create(CultureInfo.InvariantCulture, $"{time:F3}    0 {client} {(denied ? "TCP_DENIED/403" : "TCP_TUNNEL/200")} 3900 ")
        + (connect ? $"CONNECT {host}:443" : $"GET http://{host}/path?q=1") + " - HIER_NONE/- text/html";

    private sealed record Request(double Time, string Client, bool Denied, bool Connect, string Host)
    {
        public string Line => LogLine(Time, Client, Denied, Connect, Host);

        public string Target => Connect ? $"{Host}:443" : Host;
    }

    private static readonly Gen<Request> Requests = Gen.Select(
        Gen.OneOf(1_699_999_990.5, 1_700_000_000.0, 1_700_000_123.25),
        Gen.OneOf(Client, "172.18.0.4", "172.18.0.30"),
        Gen.Bool,
        Gen.Bool,
        Gen.Int[0, 400].Select(n => $"h{n}.example"),
        (time, client, denied, connect, host) => new Request(time, client, denied, connect, host));

    /// <summary>What the log says, read the slow obvious way.</summary>
    private static List<string> Expected(IEnumerable<Request> requests) =>
        requests.Where(r => r.Client == Client && r.Denied && r.Time >= Since.ToUnixTimeSeconds() - 1).Select(r => r.Target).Distinct().Take(200).ToList();

    [Fact]
    public void Refused_hosts_are_the_distinct_hosts_refused_to_the_client_in_first_seen_order_and_at_most_200()
    {
        Requests.Array[0, 1200].Sample(requests =>
        {
            var log = string.Join('\n', requests.Select(r => r.Line));

            Assert.Equal(Expected(requests), ProxyProtocol.ParseRefused(log, Client, Since));
        }, iter: 200, print: r => $"{r.Length} requests");
    }

    [Fact]
    public void No_log_text_makes_the_reader_throw()
    {
        Gen.OneOf<string>(Gen.String, Gen.OneOf(" ", "\n", "\r", "TCP_DENIED/", "CONNECT", Client, "1700000000.1", "NaN", "http://", "/", "x")
            .Array[0, 60].Select(t => string.Concat(t))).Sample(log => ProxyProtocol.ParseRefused(log, Client, Since), iter: 2000);
    }

    [Fact]
    public void Eighty_thousand_refused_hosts_are_read_in_well_under_two_seconds()
    {
        var log = string.Join('\n', Enumerable.Range(0, 80_000).Select(i => LogLine(1_700_000_001, Client, denied: true, connect: i % 2 == 0, $"h{i}.example")));
        var clock = Stopwatch.StartNew();

        var hosts = ProxyProtocol.ParseRefused(log, Client, Since);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.Equal(200, hosts.Count);
        Assert.Equal(["h0.example:443", "h1.example"], hosts.Take(2));
    }

    [Fact]
    public void The_same_host_refused_eighty_thousand_times_is_one_host()
    {
        var log = string.Join('\n', Enumerable.Repeat(LogLine(1_700_000_001, Client, denied: true, connect: true, "evil.example"), 80_000));

        Assert.Equal(["evil.example:443"], ProxyProtocol.ParseRefused(log, Client, Since));
    }
}
