using MlTraces.Core.Export;

namespace MlTraces.Tests.Export
{
    public class SpanJsonIdTests
    {
        [Theory]
        [InlineData("0XbOyh5cEeBa2BxRUG3cUg==", 16, "d176ceca1e5c11e05ad81c51506ddc52")] // base64 that starts with 0X
        [InlineData("0xlmtaUECuI46KH6iS9GuQ==", 16, "d31966b5a5040ae238e8a1fa892f46b9")]
        [InlineData("0XG4CGtmnKU=", 8, "d171b8086b669ca5")]
        [InlineData("0x1a2b3c4d5e6f7081", 8, "1a2b3c4d5e6f7081")] // MLflow 2.x hex
        [InlineData("0xff", 8, "00000000000000ff")]
        [InlineData("Gis8TV5vcIE=", 8, "1a2b3c4d5e6f7081")]
        public void IdsDecodeWhateverTheirFirstCharacters(string id, int bytes, string hex) =>
            Assert.Equal(hex, SpanJson.DecodeId(id, bytes));
    }
}
