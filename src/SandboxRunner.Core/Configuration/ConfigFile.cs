using System.Security.Cryptography;
using System.Text;

namespace SandboxRunner.Configuration;

/// <summary>
/// <c>.mcp-codex.json</c> as read at one moment: its bytes (null when there is no file) and an identity
/// that changes whenever they do. A running server reads it on each call and reloads only when the
/// identity changed; hashing the bytes catches an edit that kept the size and the modification time.
/// </summary>
public sealed class ConfigFile
{
    private const string Absent = "absent";

    private ConfigFile(byte[]? content)
    {
        Content = content;
        Identity = content is null ? Absent : Convert.ToHexStringLower(SHA256.HashData(content));
    }

    public byte[]? Content { get; }

    /// <summary>A hash of the bytes, or <c>absent</c>.</summary>
    public string Identity { get; }

    public static async Task<ConfigFile> ReadAsync(string repoRoot, CancellationToken cancellationToken)
    {
        try
        {
            return new ConfigFile(await File.ReadAllBytesAsync(Path.Combine(repoRoot, RunnerConfig.FileName), cancellationToken));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new ConfigFile(null);
        }
    }

    /// <summary>The config the bytes hold (defaults when there is no file); throws <see cref="InvalidInputException"/> naming each problem.</summary>
    public RunnerConfig Parse()
    {
        if (Content is null)
        {
            return RunnerConfig.Default;
        }

        // As File.ReadAllText decodes: UTF-8 unless a byte order mark says otherwise.
        using var reader = new StreamReader(new MemoryStream(Content), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return ConfigLoader.Parse(reader.ReadToEnd(), RunnerConfig.FileName);
    }

    /// <summary>The names of the fields whose values differ between two configs.</summary>
    public static IReadOnlyList<string> ChangedFields(RunnerConfig before, RunnerConfig after) => ConfigFieldTable.Root.Changed(before, after);
}
