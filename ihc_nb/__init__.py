__version__ = "0.0.1"

import warnings
# fastai's import compiles helpers with torch.jit.script, which torch >= 2.9 deprecates: not actionable for our users
warnings.filterwarnings('ignore', message=r'`torch\.jit\.script` is deprecated', category=FutureWarning)
