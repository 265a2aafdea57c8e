namespace SandboxRunner.Boxes;

/// <summary>What a run's boxes may reach: nothing but loopback, any host, or only an allowlist through an egress proxy.</summary>
public enum NetworkIntent { None, Open, Allowlist }

/// <summary>
/// A run's place: its scope and run id (every box's labels), its network intent and, for
/// <see cref="NetworkIntent.Allowlist"/>, its egress. A site for no run (the doctor's probe) has a null run id.
/// </summary>
public sealed record RunSiteSpec(BoxScope Scope, string? RunId, NetworkIntent Network, EgressSpec? Egress = null);

/// <summary>
/// The egress proxy of an <see cref="NetworkIntent.Allowlist"/> site: the forward proxy lets through only
/// <paramref name="Allowlist"/> (<c>host</c> for ports 80 and 443, or <c>host:port</c>); the model proxy forwards
/// to the route's upstream and adds its credential, which never enters a box.
/// </summary>
public sealed record EgressSpec(string ProxyImage, IReadOnlyList<string> Allowlist, ModelRoute Route)
{
    /// <summary>Where the proxy resolves the names it may reach; empty for the platform's default (tests point it at a recorder).</summary>
    public IReadOnlyList<string> DnsServers { get; init; } = [];
}

/// <summary>
/// Where the model proxy forwards and with what credential: an API key for <paramref name="Upstream"/>, or for a
/// ChatGPT sign-in its access token, with <see cref="ChatGpt"/> set (the proxy then forwards Codex's model paths only).
/// </summary>
public sealed record ModelRoute(string Upstream, string? Credential)
{
    public ChatGptRoute? ChatGpt { get; init; }

    public override string ToString() => $"{Upstream} ({(Credential is null ? "no credential" : ChatGpt is null ? "API key" : "ChatGPT sign-in")})";
}

/// <summary>What the proxy adds besides the bearer token on the ChatGPT route: the account header, and FedRAMP's routing header.</summary>
public sealed record ChatGptRoute(string AccountId, bool Fedramp);

/// <summary>What a box behind an allowlist site is told: where the model is, where the forward proxy is, what bypasses it.</summary>
public sealed record EgressEndpoints(string ModelBaseUrl, string ForwardProxyUrl, string NoProxy, IReadOnlyList<string> Allowlist)
{
    /// <summary>The variables every HTTP client reads for the forward proxy and its exceptions.</summary>
    public IReadOnlyDictionary<string, string> ProxyVariables => new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["HTTP_PROXY"] = ForwardProxyUrl,
        ["HTTPS_PROXY"] = ForwardProxyUrl,
        ["http_proxy"] = ForwardProxyUrl,
        ["https_proxy"] = ForwardProxyUrl,
        ["NO_PROXY"] = NoProxy,
        ["no_proxy"] = NoProxy,
    };
}

/// <summary>
/// One run's place on a backend, from which its boxes are created. Disposing it removes its network and proxy
/// (never throws: a run's results are on disk before this, and a teardown error must not replace them; what could
/// not be removed is said in <see cref="TeardownError"/> and left to orphan removal).
/// </summary>
public interface IRunSite : IAsyncDisposable
{
    NetworkIntent Network { get; }

    /// <summary>Set for an <see cref="NetworkIntent.Allowlist"/> site.</summary>
    EgressEndpoints? Egress { get; }

    /// <summary>
    /// Creates (does not start) a box on this site's network. The create itself is not cancelled part-way (a
    /// platform cancelled mid-create may leave a box nobody knows the id of); a cancellation that came meanwhile
    /// removes the box again and throws.
    /// </summary>
    Task<ITaskBox> CreateBoxAsync(BoxSpec spec, CancellationToken cancellationToken);

    /// <summary>Hosts the site's proxy refused to <paramref name="box"/> since <paramref name="since"/>, first refused first, at most 200; empty without a proxy.</summary>
    Task<IReadOnlyList<string>> RefusedHostsAsync(ITaskBox box, DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>Set when disposing could not remove everything.</summary>
    string? TeardownError { get; }
}
